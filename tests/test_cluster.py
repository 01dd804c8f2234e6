"""Runs and sweep trials on a real Ray cluster: a head and one more node, started here on loopback.

The cluster lives in a network namespace of its own that has only loopback, so that every address Ray binds or
reaches is 127.0.0.1 (Ray binds every interface of a machine otherwise). Making one needs root and iproute2, which
this machine and CI have; elsewhere the test is skipped, saying why.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from digitlab.learn.checkpoint import PROJECT


def namespace_or_skip() -> str:
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("a network namespace for the cluster needs root and iproute2")
    pytest.importorskip("ray")
    name = f"digitlab-ray-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode:
        pytest.skip(f"no network namespace could be made here: {made.stderr.strip()}")
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    return name


def test_a_sweep_runs_its_trials_on_two_ray_nodes_and_reports_back():
    name = namespace_or_skip()
    try:
        out = subprocess.run(["ip", "netns", "exec", name, sys.executable, "-m", "testkit.cluster"], cwd=PROJECT,
                             capture_output=True, text=True, timeout=400)
    finally:
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
        for pid in pids:  # anything of Ray's left behind
            subprocess.run(["kill", "-9", pid], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    got = json.loads(lines[-1])
    assert got["sweep"] == "done"
    runs = got["runs"]
    assert [r["status"] for r in runs] == ["completed", "completed"], runs
    nodes = {r["device"].split("on ray node ")[-1] for r in runs}
    assert all("on ray node" in r["device"] for r in runs) and len(nodes) == 2  # one trial on each node, at once
    for r in runs:  # everything came back to this machine's store: epochs, the checkpoint, the snapshots
        assert r["epochs"] == 2 and r["checkpoint"] and r["snapshots"] == 3 and r["val"] > 0 and r["error"] is None
        assert r["workers_started"] == 0  # no local worker: the cluster trained them


def test_the_cluster_address_comes_from_the_environment_then_the_settings(tmp_path, monkeypatch):
    from digitlab import UserError, settings
    from digitlab.runs.runner import cluster

    monkeypatch.delenv(cluster.ENV, raising=False)
    monkeypatch.delenv(settings.ENV, raising=False)
    assert cluster.address() == ""  # the default: this machine's workers
    f = tmp_path / "s.toml"
    f.write_text('[cluster]\naddress = "head.example.org:6379"\nslots = 8\n')
    monkeypatch.setenv(settings.ENV, str(f))
    assert cluster.address() == "head.example.org:6379" and settings.load().cluster.slots == 8
    monkeypatch.setenv(cluster.ENV, "127.0.0.1:6390")
    assert cluster.address() == "127.0.0.1:6390"
    f.write_text("[cluster]\nslots = 0\n")
    with pytest.raises(UserError, match="cluster.slots .* must be between 1 and 1024"):
        settings.load()
    f.write_text("[cluster]\naddress = 6379\n")
    with pytest.raises(UserError, match="cluster.address .* must be a str"):
        settings.load()
