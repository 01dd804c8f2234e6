"""Images as an attacker sends them: huge, bombs, truncated, disguised, 16-bit, CMYK. A reading or one sentence."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitlab import UserError
from digitlab.drawing import preprocess
from digitlab.learn import checkpoint
from digitlab.learn.checkpoint import SHIPPED
from digitlab.settings import Limits
from testkit import redraw
from testkit.fixtures import official_test_digits, png_header_claiming


@pytest.fixture(scope="module")
def model():
    return checkpoint.load(SHIPPED / "mlp-default.pt")


def read_digit(model, path, limits=None) -> int | None:
    seen = preprocess.to_mnist(preprocess.read_image(path, limits))
    return None if seen is None else int(model.predict_proba(seen[None])[0].argmax())


def photo(tmp_path, digit_index=0, side=(3000, 4000), thicken=6) -> tuple:
    """Dark ink on white paper, side = (width, height), the digit off-centre."""
    x, y = official_test_digits(10)
    small = 255 - redraw.redraw(x[digit_index], 280, 60, 40, thicken, canvas=400)
    page = np.asarray(Image.fromarray(small).resize(side, Image.Resampling.BILINEAR))
    return page, int(y[digit_index])


def test_a_phone_photo_is_read(model, tmp_path):
    page, label = photo(tmp_path)
    Image.fromarray(page).convert("RGB").save(tmp_path / "photo.jpg", quality=85)
    assert read_digit(model, tmp_path / "photo.jpg") == label
    assert max(preprocess.read_image(tmp_path / "photo.jpg").shape) <= preprocess.MAX_SIDE  # decoded small


def test_a_thin_line_drawing_is_read(model, tmp_path):
    im = Image.new("L", (1000, 1000), 255)
    ImageDraw.Draw(im).line([(250, 200), (750, 200), (450, 850)], fill=0, width=2)
    im.save(tmp_path / "thin7.png")
    assert read_digit(model, tmp_path / "thin7.png") == 7


@pytest.mark.parametrize("mode", ["I;16", "CMYK", "P", "LA", "1"])
def test_other_modes_read_the_same_digit(model, tmp_path, mode):
    page, label = photo(tmp_path, side=(400, 400))
    im = Image.fromarray(page)
    if mode == "I;16":
        im = Image.fromarray(page.astype(np.uint16) * 257)
    elif mode == "LA":
        im = im.convert("LA")
    else:
        im = im.convert(mode)
    path = tmp_path / ("d.jpg" if mode == "CMYK" else "d.png")
    im.save(path)
    assert read_digit(model, path) == label


def test_a_gif_named_png_is_read_and_an_svg_named_png_is_refused(model, tmp_path):
    page, label = photo(tmp_path, side=(300, 300))
    Image.fromarray(page).save(tmp_path / "gif.png", format="GIF")
    assert read_digit(model, tmp_path / "gif.png") == label
    (tmp_path / "svg.png").write_text('<svg xmlns="http://www.w3.org/2000/svg"><circle r="5"/></svg>')
    with pytest.raises(UserError, match="svg.png is not an image digitlab can read"):
        preprocess.read_image(tmp_path / "svg.png")


def test_truncated_files_are_one_sentence(tmp_path):
    page, _ = photo(tmp_path, side=(600, 600))
    for ext in ("png", "jpg"):
        Image.fromarray(page).save(tmp_path / f"full.{ext}")
        (tmp_path / f"cut.{ext}").write_bytes((tmp_path / f"full.{ext}").read_bytes()[:300])
        with pytest.raises(UserError, match="is not an image digitlab can read"):
            preprocess.read_image(tmp_path / f"cut.{ext}")


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_header_claiming(20_000, 20_000))
    with pytest.raises(UserError, match=r"bomb.png is larger than the limit of 16,000,000 pixels \(limits.image_pixels"):
        preprocess.read_image(tmp_path / "bomb.png", Limits())
    real = Image.new("1", (12_000, 12_000))  # a real one: 144 megapixels in a few kilobytes
    real.save(tmp_path / "real-bomb.png", optimize=True)
    assert (tmp_path / "real-bomb.png").stat().st_size < 100_000
    with pytest.raises(UserError, match=r"is 12000 x 12000 pixels, larger than the limit of 16,000,000 pixels"):
        preprocess.read_image(tmp_path / "real-bomb.png", Limits())


def test_too_many_bytes_is_refused_before_reading(tmp_path):
    (tmp_path / "big.png").write_bytes(b"\x89PNG" + b"\x00" * (2 * 2**20))
    with pytest.raises(UserError, match=r"big.png has 2.0 MB, over the limit of 1 MB \(limits.upload_mb"):
        preprocess.read_image(tmp_path / "big.png", Limits(upload_mb=1))


def test_an_upload_is_read_from_its_open_file(model, tmp_path):
    page, label = photo(tmp_path, side=(500, 500))
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, format="PNG")
    buffer.seek(100)  # wherever the caller left it
    buffer.name = "upload.png"
    seen = preprocess.to_mnist(preprocess.read_image(buffer))
    assert int(model.predict_proba(seen[None])[0].argmax()) == label
