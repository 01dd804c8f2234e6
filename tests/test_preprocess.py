import numpy as np
import pytest
from PIL import Image

from digitlab import UserError, preprocess


def canvas_with_box(top, left, h, w, size=280, value=255):
    a = np.zeros((size, size), np.uint8)
    a[top : top + h, left : left + w] = value
    return a


def test_empty_and_near_empty_canvas_is_nothing_drawn():
    assert preprocess.to_mnist(np.zeros((280, 280, 4), np.uint8)) is None
    speck = canvas_with_box(100, 100, 3, 3)
    assert preprocess.to_mnist(speck) is None
    assert preprocess.to_mnist(np.full((280, 280), 255, np.uint8)) is None  # a blank white page


def test_fits_20x20_and_is_centred_by_mass():
    out = preprocess.to_mnist(canvas_with_box(10, 150, 200, 40))  # tall bar, far off-centre
    assert out.shape == (28, 28) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    rows, cols = np.flatnonzero(out.max(1) > 0.05), np.flatnonzero(out.max(0) > 0.05)
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 <= 6
    r = (out.sum(1) @ np.arange(28)) / out.sum()
    c = (out.sum(0) @ np.arange(28)) / out.sum()
    assert abs(r - 13.5) <= 0.5 and abs(c - 13.5) <= 0.5


def test_polarity_and_alpha_give_the_same_digit():
    light_on_dark = canvas_with_box(40, 60, 150, 90)
    dark_on_light = 255 - light_on_dark
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = light_on_dark  # black strokes on a transparent background
    ref = preprocess.to_mnist(light_on_dark)
    np.testing.assert_allclose(preprocess.to_mnist(dark_on_light), ref, atol=1e-5)
    np.testing.assert_allclose(preprocess.to_mnist(rgba), ref, atol=1e-5)
    rgb = np.repeat(light_on_dark[..., None], 3, axis=2)
    np.testing.assert_allclose(preprocess.to_mnist(rgb), ref, atol=1e-5)


def test_an_mnist_digit_stays_itself():
    from tests.conftest import FIXTURES
    from digitlab.data import read_idx

    x = read_idx(FIXTURES / "t10k-200-images-idx3-ubyte")[:50].astype(np.float32) / 255
    out = np.stack([preprocess.to_mnist(d) for d in x])
    # MNIST digits are already cropped, scaled and centred: re-preprocessing moves little ink.
    assert np.abs(out - x).mean() < 0.06


def test_read_image(tmp_path):
    Image.fromarray(canvas_with_box(5, 5, 20, 10, size=40)).save(tmp_path / "d.png")
    assert preprocess.read_image(tmp_path / "d.png").shape == (40, 40)
    (tmp_path / "t.png").write_text("hello")
    with pytest.raises(UserError, match="not an image"):
        preprocess.read_image(tmp_path / "t.png")
    with pytest.raises(UserError, match="No file"):
        preprocess.read_image(tmp_path / "none.png")
