import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from digitlab import UserError
from digitlab.drawing import preprocess
from testkit.fixtures import official_test_digits


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
    x = official_test_digits(50)[0].astype(np.float32) / 255
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


def check_output(out):
    assert out is None or (out.shape == (28, 28) and out.dtype == np.float32 and np.isfinite(out).all()
                           and 0 <= out.min() and out.max() <= 1)


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.float32, np.float64, np.bool_]),
                  shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=64)))
def test_any_array_is_an_mnist_image_or_nothing(a):
    check_output(preprocess.to_mnist(a))


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 300), w=st.integers(1, 300), channels=st.sampled_from([0, 1, 2, 3, 4]),
       kind=st.sampled_from(["black", "white", "one pixel", "noise", "box"]), seed=st.integers(0, 2**16))
def test_any_canvas_sized_image_is_an_mnist_image_or_nothing(h, w, channels, kind, seed):
    rng = np.random.default_rng(seed)
    img = {"black": np.zeros((h, w)), "white": np.full((h, w), 255.0), "one pixel": np.zeros((h, w)),
           "noise": rng.integers(0, 256, (h, w)), "box": np.zeros((h, w))}[kind].astype(np.uint8)
    if kind == "one pixel":
        img[rng.integers(h), rng.integers(w)] = 255
    if kind == "box":
        img[h // 4 : max(h // 4 + 1, 3 * h // 4), w // 3 : max(w // 3 + 1, 2 * w // 3)] = 255
    if channels:
        img = np.repeat(img[..., None], channels, axis=2)
    out = preprocess.to_mnist(img)
    check_output(out)
    if kind in ("black", "white", "one pixel"):
        assert out is None  # nothing drawn is not a digit


def test_the_steps_shown_end_in_what_the_model_sees():
    img = canvas_with_box(10, 150, 200, 40)
    made = preprocess.steps(img)
    assert [what for what, _ in made] == ["gray, ink bright", "cropped to the ink", "strokes at MNIST's width",
                                          "longer side scaled to 20", "centre of mass at the centre of 28×28"]
    assert np.array_equal(made[-1][1], preprocess.to_mnist(img)) and max(made[3][1].shape) == 20
    assert preprocess.steps(np.zeros((280, 280))) is None


def test_a_one_channel_image_is_its_grey_plane():
    g = np.zeros((30, 40), np.uint8)
    g[5:25, 10:20] = 200
    np.testing.assert_array_equal(preprocess.to_gray(g[..., None]), preprocess.to_gray(g))


def test_flatten_keeps_the_pieces_of_ink_of_a_twentieth_of_the_largest_and_drops_specks():
    g = np.full((200, 200), 0.3, np.float32)  # a grey board
    g[20:120, 40:48] = 1.0     # a pen's stroke: 800 pixels
    g[150:160, 150:160] = 1.0  # 100 pixels: over a twentieth of it (40), kept
    g[180:184, 20:24] = 1.0    # 16 pixels: a speck, dropped
    ink = preprocess.flatten(g)
    assert ink[70, 44] > 0.5 and ink[155, 155] > 0.5 and ink[182, 22] == 0
    assert ink[100, 100] == 0 and ink[5, 190] == 0  # the board is no ink


def test_otsu_matches_a_brute_force_search_of_every_cut():
    """The reference: for each of the 255 cuts of the 256-bin histogram, the between-class variance w0 w1 (mu0 - mu1)^2,
    worked out directly; the threshold is the centre of the last bin below the best cut."""
    rng = np.random.default_rng(0)
    for values in (np.r_[rng.normal(0.2, 0.05, 3000), rng.normal(0.7, 0.1, 1000)].clip(0, 1),
                   rng.uniform(0, 1, 500), np.r_[np.full(50, 0.1), np.full(200, 0.95)]):
        bins = np.minimum((values * 256).astype(int), 255)
        centres = (np.arange(256) + 0.5) / 256
        best, cut = -1.0, 0
        for k in range(255):
            low, high = values[bins <= k], values[bins > k]
            if len(low) and len(high):
                w0, w1 = len(low) / len(values), len(high) / len(values)
                v = w0 * w1 * (centres[bins[bins <= k]].mean() - centres[bins[bins > k]].mean()) ** 2
                if v > best + 1e-12:
                    best, cut = v, k
        assert preprocess._otsu(values) == pytest.approx(centres[cut])


def test_strokes_are_thickened_and_thinned_evenly_on_every_side():
    thin = np.zeros((201, 201), np.float32)
    thin[100, :] = thin[:, 100] = 1.0  # a plus of one-pixel lines: symmetric both ways
    thick = np.zeros((201, 201), np.float32)
    thick[70:131, :] = thick[:, 70:131] = 1.0  # the same plus, 61 pixels wide
    for crop in (thin, thick):
        out = preprocess.normalize_stroke(crop)
        assert out.shape != crop.shape or not np.array_equal(out, crop)  # it did change the stroke
        np.testing.assert_array_equal(out, out[::-1])
        np.testing.assert_array_equal(out, out[:, ::-1])
        assert abs(preprocess.stroke_width(out > 0.5) * 20 / max(out.shape) - preprocess.STROKE) < 1.0


def test_ink_under_a_seventh_of_the_pad_is_too_small_to_read():
    pad = np.zeros((280, 280), np.uint8)
    assert not preprocess.too_small(pad)  # nothing drawn is not "too small": it is nothing
    pad[140:150, 140:152] = 255  # a dot
    assert preprocess.too_small(pad)
    pad[100:139, 140:145] = 255  # a stroke 50 px long: a small digit, still read
    assert not preprocess.too_small(pad)
    photo = np.zeros((1200, 900), np.uint8)
    photo[500:560, 400:410] = 255  # the same share of a larger picture: judged by the picture's size
    assert preprocess.too_small(photo) and not preprocess.too_small(photo[400:700, 300:600])
    assert not preprocess.too_small(np.zeros((0, 0)))
    edge = np.zeros((280, 280), np.uint8)
    edge[100:140, 100:105] = 255  # 40 px: a seventh of the pad, just read
    assert not preprocess.too_small(edge)
    edge[139] = 0  # 39 px
    assert preprocess.too_small(edge)
