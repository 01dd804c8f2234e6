"""My digits: saving, relabelling, deleting, the zip's round trip and its hostile forms, and scoring on them."""

import io
import zipfile

import numpy as np
import pytest

from digitlab import UserError
from digitlab.datasets import handwriting, idx
from digitlab.drawing import preprocess
from digitlab.learn import checkpoint, evaluation
from digitlab.learn.checkpoint import SHIPPED
from digitlab.learn.config import TrainConfig
from digitlab.settings import Limits
from digitlab.runs.store import Store
from testkit import redraw
from testkit.fixtures import official_test_digits


def drawing(img28, size=180) -> bytes:
    """A test digit as the pad sends it: a 280x280 PNG, white strokes on black."""
    return handwriting.image_png(redraw.redraw(img28, size, 50, 50, 2))


@pytest.fixture
def saved(tmp_path):
    store = Store(tmp_path)
    x, y = official_test_digits(12)
    ids = [handwriting.save(store, drawing(img), int(label), owner="ada") for img, label in zip(x, y)]
    return store, ids, x, y


def test_a_saved_drawing_keeps_its_png_what_the_model_saw_its_label_and_who_drew_it(saved):
    store, ids, x, y = saved
    rows = store.digits("ada")
    assert [r["id"] for r in rows] == ids and [r["label"] for r in rows] == list(y)
    assert rows[0]["drawing"] == drawing(x[0]) and rows[0]["owner"] == "ada" and rows[0]["created"] > 0
    seen = preprocess.to_mnist(preprocess.read_image(io.BytesIO(drawing(x[0]))))
    assert rows[0]["seen"] == handwriting.as_bytes(seen)
    images, labels = handwriting.arrays(rows)
    assert images.shape == (12, 28, 28) and images.dtype == np.uint8 and list(labels) == list(y)
    assert store.digits("bob") == [] and "seen" not in store.digits(images=False)[0]


@pytest.mark.parametrize("label", [10, -1, 3.5, "x", "12", None, True])
def test_a_label_that_is_no_digit_is_one_sentence(tmp_path, label):
    x, _ = official_test_digits(1)
    with pytest.raises(UserError, match="is not a digit label: give a whole number from 0 to 9"):
        handwriting.save(Store(tmp_path), drawing(x[0]), label)


def test_nothing_drawn_or_no_image_is_refused_and_nothing_is_kept(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(UserError, match="Nothing is drawn"):
        handwriting.save(store, handwriting.image_png(np.zeros((280, 280), np.uint8)), 3)
    with pytest.raises(UserError, match="not an image"):
        handwriting.save(store, b"GIF89a not really", 3)
    assert store.digits() == []


def test_the_limit_per_person_holds_and_a_batch_is_kept_whole_or_not_at_all(tmp_path):
    store, (x, _) = Store(tmp_path), official_test_digits(3)
    limits = Limits(digits_per_person=2)
    handwriting.save(store, drawing(x[0]), 1, "ada", limits)
    handwriting.save(store, drawing(x[1]), 1, "ada", limits)
    with pytest.raises(UserError, match="You keep 2 digits, the limit of 2 .limits.digits_per_person"):
        handwriting.save(store, drawing(x[2]), 1, "ada", limits)
    handwriting.save(store, drawing(x[2]), 1, "bob", limits)  # the limit is per person
    blob = handwriting.export_zip(store.digits("ada"))
    with pytest.raises(UserError, match="these 2 would pass the limit of 2"):
        handwriting.import_zip(store, blob, "bob", limits)
    assert len(store.digits("bob")) == 1


def test_relabel_and_delete_touch_only_the_owners_digits(saved):
    store, ids, _, y = saved
    version = store.digits_version()
    assert store.relabel_digits({ids[0]: 9, ids[1]: int(y[1])}, owner="ada") == 1  # the second kept its label
    assert store.relabel_digits({ids[2]: 0}, owner="bob") == 0
    assert store.delete_digits(ids[3:5], owner="bob") == 0
    assert store.delete_digits(ids[3:5], owner="ada") == 2
    rows = {r["id"]: r for r in store.digits()}
    assert rows[ids[0]]["label"] == 9 and rows[ids[2]]["label"] == y[2] and len(rows) == 10
    assert store.digits_version() > version  # what is computed from the digits is computed again


def test_export_then_import_is_a_byte_exact_round_trip(saved, tmp_path):
    store, _, x, y = saved
    blob = handwriting.export_zip(store.digits("ada"))
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        images, labels = z.read(handwriting.IMAGES), z.read(handwriting.LABELS)
        assert images[:16] == bytes.fromhex("00000803 0000000c 0000001c 0000001c")  # MNIST's own header, 12 images
        assert labels[:8] == bytes.fromhex("00000801 0000000c") and list(labels[8:]) == list(y)
        assert sorted(n for n in z.namelist() if n.startswith("drawings/"))[0] == f"drawings/00001-{y[0]}.png"
    other = Store(tmp_path / "other")
    assert handwriting.import_zip(other, blob, "cy") == 12
    again = other.digits("cy")
    with zipfile.ZipFile(io.BytesIO(handwriting.export_zip(again))) as z:
        assert z.read(handwriting.IMAGES) == images and z.read(handwriting.LABELS) == labels
    assert [r["drawing"] for r in again] == [r["drawing"] for r in store.digits("ada")]


def test_a_zip_of_only_the_idx_pair_from_another_tool_is_imported(tmp_path):
    x, y = official_test_digits(5)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(handwriting.IMAGES, idx.encode(x))
        z.writestr(handwriting.LABELS, idx.encode(y.astype(np.uint8)))
    store = Store(tmp_path)
    assert handwriting.import_zip(store, buf.getvalue()) == 5
    rows = store.digits()
    assert handwriting.arrays(rows)[0].tobytes() == x.tobytes()
    assert preprocess.read_image(io.BytesIO(rows[0]["drawing"])).shape == (28, 28)  # the 28x28 stands in


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


GOOD_IMAGES = idx.encode(np.zeros((2, 28, 28), np.uint8))
GOOD_LABELS = idx.encode(np.array([1, 2], np.uint8))


@pytest.mark.parametrize("blob, message", [
    (b"PK\x03\x04 not a zip at all", "This is not a zip file"),
    (zip_of({"readme.txt": b"hi"}), "The zip has no images-idx3-ubyte and labels-idx1-ubyte"),
    (zip_of({handwriting.IMAGES: b"\0\0\x08\x03" + b"\0" * 12, handwriting.LABELS: GOOD_LABELS}),
     "holds 0x0 images"),
    (zip_of({handwriting.IMAGES: idx.encode(np.zeros((2, 20, 20), np.uint8)), handwriting.LABELS: GOOD_LABELS}),
     "holds 20x20 images"),
    (zip_of({handwriting.IMAGES: GOOD_IMAGES[:-5], handwriting.LABELS: GOOD_LABELS}), "truncated or damaged"),
    (zip_of({handwriting.IMAGES: GOOD_IMAGES, handwriting.LABELS: idx.encode(np.array([1, 12], np.uint8))}),
     "a label of 12"),
    (zip_of({handwriting.IMAGES: GOOD_IMAGES, handwriting.LABELS: idx.encode(np.array([10, 1], np.uint8))}),
     "a label of 10: labels are digits"),  # the first label past 9: refused here, never left to the database
    (zip_of({handwriting.IMAGES: GOOD_IMAGES, handwriting.LABELS: idx.encode(np.array([1], np.uint8))}),
     "holds 2 images but labels-idx1-ubyte 1 label:"),
    (zip_of({handwriting.IMAGES: idx.encode(np.zeros((1, 28, 28), np.uint8)), handwriting.LABELS: GOOD_LABELS}),
     "holds 1 image but labels-idx1-ubyte 2 labels"),
    (zip_of({handwriting.IMAGES: b"\0" * (16 + 784 * 3), handwriting.LABELS: GOOD_LABELS}), "is larger than"),
    (zip_of({handwriting.IMAGES: GOOD_IMAGES, handwriting.LABELS: GOOD_LABELS, "digits.csv": "index,label,drawing\n0,1,d.png\n",
             "d.png": b"<svg>not a png</svg>"}), "d.png in the zip is not a PNG drawing"),
    (zip_of({handwriting.IMAGES: GOOD_IMAGES, handwriting.LABELS: GOOD_LABELS,
             **{f"x{k}": b"" for k in range(20)}}), "The zip holds 22 files"),
])
def test_a_hostile_zip_is_one_sentence_and_nothing_is_kept(tmp_path, blob, message):
    store = Store(tmp_path)
    with pytest.raises(UserError, match=message):
        handwriting.import_zip(store, blob, "ada", Limits(digits_per_person=2))
    assert store.digits() == []


def test_a_zip_over_the_size_limit_is_refused_before_it_is_opened(tmp_path):
    with pytest.raises(UserError, match=r"over the limit of 0.01 MB \(limits.digits_zip_mb"):
        handwriting.import_zip(Store(tmp_path), b"\0" * 20_000, limits=Limits(digits_zip_mb=0.01))


def test_a_member_that_unpacks_beyond_what_it_can_be_is_refused_unread(tmp_path):
    bomb = zip_of({handwriting.IMAGES: b"\0" * 50_000_000, handwriting.LABELS: GOOD_LABELS})  # 50 MB of zeros
    assert len(bomb) < 100_000
    with pytest.raises(UserError, match="images-idx3-ubyte in the zip is larger than 1,584 bytes"):
        handwriting.import_zip(Store(tmp_path), bomb, limits=Limits(digits_per_person=2))


def test_scoring_on_saved_digits_matches_the_models_own_reading(saved):
    store, _, x, y = saved
    ck = checkpoint.load(SHIPPED / "mlp-default.pt")
    images, labels = handwriting.arrays(store.digits("ada"))
    r = evaluation.evaluate(ck, images, labels)
    assert r["test_acc"] == pytest.approx(np.mean(ck.predict_proba(images).argmax(1) == labels))
    assert r["test_acc"] >= 0.9 and np.asarray(r["confusion"]).sum() == 12
    with pytest.raises(UserError, match="There are no digits to score on"):
        evaluation.evaluate(ck, np.zeros((0, 28, 28), np.uint8), [])


def _big_noisy_png(side: int, seed: int = 0) -> bytes:
    import io

    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_a_drawing_is_kept_as_a_bounded_picture_beside_what_the_model_read(tmp_path):
    from PIL import Image

    store = Store(tmp_path)
    huge = _big_noisy_png(990)
    assert len(huge) > 900_000
    rid = handwriting.save(store, huge, 3, owner="bob")
    row = store.digits("bob")[0]
    assert row["id"] == rid and len(row["drawing"]) <= handwriting.PICTURE_BYTES
    with Image.open(io.BytesIO(row["drawing"])) as im:
        assert max(im.size) <= handwriting.PICTURE_SIDE
    small = handwriting.image_png(np.zeros((28, 28), np.uint8) + 1)
    assert handwriting.bounded(small, bytes(784)) == small  # the pad's own drawings are kept as sent


def test_a_person_of_a_class_keeps_no_more_bytes_than_their_quota(tmp_path):
    import dataclasses

    from digitlab import settings

    store = Store(tmp_path)
    limits = dataclasses.replace(settings.DEFAULT.limits, stored_mb_per_person=0.1)  # 104,857 bytes
    drawing = handwriting.image_png(np.tile(np.arange(28, dtype=np.uint8) * 9, (28, 1)))
    kept = 0
    with pytest.raises(UserError, match=r"^You keep .* MB \(drawings .* MB, runs 0\.0 MB\), and this would add .* MB, "
                                        r"over your 0\.1 MB \(limits\.stored_mb_per_person in the settings\): delete "
                                        r"some digits or runs first\.$"):
        while True:
            handwriting.save(store, drawing, 1, owner="bob", limits=limits)
            kept += 1
    assert 0 < kept and sum(store.bytes_kept("bob").values()) <= 0.1 * 2**20
    assert handwriting.save(store, drawing, 1, owner="", limits=limits)  # a single user's disk is their own
    run = store.create(TrainConfig(), owner="cy")
    store.run_dir(run).mkdir(parents=True)
    (store.run_dir(run) / "best.pt").write_bytes(bytes(200_000))
    assert store.bytes_kept("cy") == {"drawings": 0, "runs": 200_000}
    with pytest.raises(UserError, match="over your 0.1 MB"):
        handwriting.save(store, drawing, 1, owner="cy", limits=limits)  # runs count too
    with pytest.raises(UserError, match="over your 0.1 MB"):
        handwriting.import_zip(store, handwriting.export_zip(store.digits("bob")[:2]), owner="cy", limits=limits)
    assert store.digits("cy") == []
