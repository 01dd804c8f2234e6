"""What the Draw page's pad sends is checked like an uploaded file: a drawing is read, anything else is one sentence."""

import base64
import io

import pytest
from PIL import Image, ImageDraw

from app.components.pad import MAX_CHARS, PREFIX, SIDE, decode
from digitlab import UserError
from digitlab.drawing import preprocess
from testkit.browser import SEVEN
from testkit.fixtures import png_header_claiming


def sent(png: bytes) -> str:
    return PREFIX + base64.b64encode(png).decode()


def pad_png(points=SEVEN, width=20) -> bytes:
    """The PNG the pad sends: opaque RGBA, white strokes on black."""
    im = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 255))
    ImageDraw.Draw(im).line(points, fill=(255, 255, 255, 255), width=width, joint="curve")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def test_a_drawing_is_read_as_the_canvas_was():
    image = decode(sent(pad_png()))
    assert image.shape == (SIDE, SIDE, 4)
    seen = preprocess.to_mnist(image)
    assert seen is not None and seen.shape == (28, 28) and seen.max() > 0.9


@pytest.mark.parametrize("value", [
    42, ["data"], {"png": 1}, "", "data:image/jpeg;base64,AAAA", "javascript:alert(1)",
    PREFIX + "x" * MAX_CHARS,  # too long: refused before any decoding
])
def test_anything_but_a_pad_png_is_one_sentence(value):
    with pytest.raises(UserError, match="draw again"):
        decode(value)


@pytest.mark.parametrize("value", [PREFIX + "%%%not base64%%%", sent(b"GIF89a" + b"\0" * 40), sent(pad_png()[:60])])
def test_damaged_or_foreign_images_are_one_sentence(value):
    with pytest.raises(UserError) as e:
        decode(value)
    assert e.value.args[0].count(".") <= 2 and "\n" not in e.value.args[0]


def test_a_png_claiming_a_huge_canvas_is_refused_before_decoding():
    with pytest.raises(UserError, match="limits.image_pixels"):
        decode(sent(png_header_claiming(40_000, 40_000)))

