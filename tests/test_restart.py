"""Restarting the app (digitlab serve) in the middle of a run loses nothing: the run goes on, the queue waits."""

import os
import signal
import subprocess
import sys

from digitlab.learn.config import TrainConfig
from digitlab.runs.store import Status, Store
from testkit.browser import free_port, wait_healthy
from testkit.fixtures import wait_for


def serve(runs, data_root):
    port = free_port()
    env = {**os.environ, "DIGITLAB_RUNS": str(runs), "DIGITLAB_DATA": str(data_root)}
    env.pop("DIGITLAB_SETTINGS", None)
    p = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "digitlab"), "serve", "--port", str(port)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_healthy(f"http://localhost:{port}", p, 60, lambda: "the app did not start")
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(20) == 143


def test_a_restart_mid_run_loses_no_run(tmp_path, tiny_root):
    s = Store(tmp_path / "runs")
    long = s.create(TrainConfig(hidden=[64], epochs=400, batch_size=16, device="cpu", name="long"))
    queued = s.create(TrainConfig(hidden=[16], epochs=1, device="cpu", name="next"))
    app = serve(s.root, tiny_root)  # its supervisor starts a worker with no page open
    try:
        wait_for(lambda: len(s.epochs(long)) >= 1, 90, "the long run's first epoch")
    finally:
        stop(app)
    assert s.get(long).status is Status.RUNNING and s.get(queued).status is Status.QUEUED
    backups = set(s.backups.glob("runs-*.db"))
    app = serve(s.root, tiny_root)
    try:
        # The new supervisor's first tick reaps, then backs up: once its backup is there, it has looked at the run.
        wait_for(lambda: set(s.backups.glob("runs-*.db")) - backups, 30, "the new supervisor's first tick")
        assert s.get(long).status is Status.RUNNING  # the worker is alive: nothing reaped
        trained = len(s.epochs(long))
        wait_for(lambda: len(s.epochs(long)) > trained, 90, "an epoch trained under the new supervisor")
        assert s.get(long).status is Status.RUNNING
        s.request_cancel(long)
        wait_for(lambda: s.get(queued).status is Status.COMPLETED, 90, "the queued run")
        assert s.get(long).status is Status.CANCELLED and s.get(long).checkpoint
    finally:
        stop(app)
