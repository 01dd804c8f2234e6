"""A two-trial sweep through a real Ray cluster of two nodes on loopback; prints what happened as one JSON line.

Run inside a network namespace that has only loopback (tests/test_cluster.py makes one), so that every address Ray
binds or reaches is 127.0.0.1: `ip netns exec NS python -m testkit.cluster`.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
PORT = 6391


def ray(*args: str) -> None:
    subprocess.run([RAY, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=120)


def main() -> None:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    with tempfile.TemporaryDirectory() as tmp:
        common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--object-store-memory=150000000",
                  "--disable-usage-stats"]
        ray("start", "--head", f"--port={PORT}", "--include-dashboard=false", f"--temp-dir={tmp}/ray", *common)
        try:
            ray("start", f"--address=127.0.0.1:{PORT}", *common)  # a second node
            print(json.dumps(sweep_through_the_cluster(Path(tmp))))
        finally:
            subprocess.run([RAY, "stop", "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=60)


def sweep_through_the_cluster(tmp: Path) -> dict:
    from digitlab.datasets import data
    from digitlab.runs import sweep
    from digitlab.runs.runner import cluster
    from digitlab.runs.store import Store
    from testkit.fixtures import digests, write_dataset
    from testkit.supervise import supervising, until_sweep_ends

    root = write_dataset(tmp / "data")
    data.MD5 = digests(root)  # the tiny set's own checksums stand in for the official ones
    data.prepare(root)
    os.environ[cluster.ENV] = f"127.0.0.1:{PORT}"
    store = Store(tmp / "runs")
    text = ('name = "on ray"\ntrials = 2\nparallel = 2\nsampler = "random"\nprune = false\n[fixed]\nhidden = "16"\n'
            'epochs = 2\nbatch_size = 32\n[search.lr]\nlow = 1e-3\nhigh = 1e-2\nlog = true\n')
    sweep_id = sweep.start(store, sweep.parse(text))
    with supervising(store, root, every=0.3) as sup:
        until_sweep_ends(store, sweep_id)
    runs = store.sweep_runs(sweep_id)
    return {"sweep": store.get_sweep(sweep_id).status,
            "runs": [{"status": str(r.status), "device": r.device, "epochs": len(store.epochs(r.id)),
                      "checkpoint": bool(r.checkpoint) and Path(r.checkpoint).is_file(),
                      "snapshots": len(store.snapshots(r.id)), "val": r.best_val_acc, "error": r.error,
                      "workers_started": len(sup.workers)} for r in runs]}


if __name__ == "__main__":
    main()
