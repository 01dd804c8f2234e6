"""Shared fixtures: a tiny IDX data set prepared and MD5-verified per test, a fresh run store, the app's paths."""

import os
import signal
from pathlib import Path

import pytest
import torch

from digitlab.datasets import data
from testkit.fixtures import REAL_ROOT, digests, real_prepared, write_dataset

needs_real = pytest.mark.skipif(not real_prepared(), reason="the real MNIST is not prepared")


@pytest.fixture
def tiny_root(tmp_path, monkeypatch) -> Path:
    """A tiny synthetic set, prepared through the real MD5 check: its own digests stand in for the official ones."""
    root = write_dataset(tmp_path / "data")
    monkeypatch.setattr(data, "MD5", digests(root))
    data.prepare(root)
    assert data.is_prepared(root)
    return root


@pytest.fixture
def tiny(tiny_root) -> data.MNIST:
    return data.load(tiny_root)


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("DIGITLAB_RUNS", str(root))
    return root


@pytest.fixture
def app_env(runs, tiny_root, monkeypatch) -> Path:
    """The app's folders pinned to this test's: its run store and the tiny set (never ./data or ./runs)."""
    monkeypatch.setenv("DIGITLAB_DATA", str(tiny_root))
    return runs


@pytest.fixture
def class_roster(tmp_path):
    """A roster file: ada teaches (teacher-pass-1), bob is a student (student-pass-1)."""
    from digitlab.classroom import roster

    path = tmp_path / "roster.toml"
    roster.set_password(path, "ada", "teacher-pass-1", "teacher")
    roster.set_password(path, "bob", "student-pass-1", "student")
    return path


@pytest.fixture
def classroom(app_env, tmp_path, monkeypatch):
    """Class mode on this test's store: ada teaches (teacher-pass-1), bob and cy are students (NAME-pass-123)."""
    from digitlab.classroom import roster
    from digitlab.runs.store import Store

    people = tmp_path / "roster.toml"
    roster.set_password(people, "ada", "teacher-pass-1", "teacher")
    for name in ("bob", "cy"):
        roster.set_password(people, name, f"{name}-pass-123", "student")
    # AppTest runs no server, so nothing it serves is encrypted: the setting that allows that (tests/test_school.py
    # serves class mode over HTTPS)
    (tmp_path / "class.toml").write_text('[classroom]\nenabled = true\nroster = "roster.toml"\nplain_http = true\n')
    monkeypatch.setenv("DIGITLAB_SETTINGS", str(tmp_path / "class.toml"))
    return Store(app_env)


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A real 16 MB filesystem (a tmpfs; mounting needs root): a test that cannot mount one says so and is skipped."""
    from testkit import disk

    folder = tmp_path / "disk"
    why = disk.mount(folder)
    if why:
        pytest.skip(f"no small filesystem to fill: {why}")
    yield folder
    disk.unmount(folder)


@pytest.fixture
def real_mnist() -> data.MNIST:
    if not real_prepared():
        pytest.skip("the real MNIST is not prepared")
    return data.load(REAL_ROOT)


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _no_worker_outlives_its_test(tmp_path):
    """A test's supervisors (the app's, cached for the whole pytest process) stop with it, and the workers they
    started for its run store end with it: else they train on through every later test."""
    from digitlab.runs.runner import supervisor

    yield
    for sup in list(supervisor.STARTED):
        if str(tmp_path) in str(sup.store.root):
            sup.stop()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker" in cmd and any(str(tmp_path).encode() in part for part in cmd):
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except OSError:
                pass
