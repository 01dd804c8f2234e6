"""Mutation score of the core: cosmic-ray changes a module one small step at a time (an operator, a comparison, a
number, a boolean, a loop that runs no time) and that module's own tests must fail for each change. Prints per module
the mutants tried, killed and survived, the score with its 95% interval, and every survivor's diff to a log.

    .venv/bin/pip install -r benchmarks/requirements.txt
    .venv/bin/python benchmarks/mutation.py                     # a seeded sample of 25 mutants a module
    .venv/bin/python benchmarks/mutation.py --sample 0 --modules metrics   # every mutant of one module

The core holds thousands of mutants (cost.py alone about 1,000: every number of its speed model, each +-1), and one
costs a test run of seconds, so the default scores a random sample per module (the same seed, the same sample). It
works on a git worktree of HEAD in a temporary folder: cosmic-ray edits the files it mutates in place.
"""

import argparse
import math
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PY = sys.executable
TESTS = f"{PY} -m pytest -x -q -p no:cacheprovider -p no:randomly"
# module -> (the files mutated, the tests that must catch them[, files left to another module])
MODULES = {
    "config": ("digitlab/learn/config.py", "tests/test_config.py tests/test_presets.py"),
    "cost": ("digitlab/learn/cost.py", "tests/test_cost.py"),
    "preprocess": ("digitlab/drawing/preprocess.py", "tests/test_preprocess.py tests/test_images.py tests/test_drawn_digits.py"),
    "metrics": ("digitlab/learn/metrics.py", "tests/test_metrics.py"),
    "checkpoint": ("digitlab/learn/checkpoint.py", "tests/test_checkpoint.py"),
    "store": ("digitlab/runs/store", "tests/test_store.py tests/test_admission.py"),
    "admission": ("digitlab/runs/admission.py", "tests/test_admission.py"),
    # the cluster's code is scored by its own tests (Ray in network namespaces, 30 s a run): module "cluster"
    "runner": ("digitlab/runs/runner", "tests/test_runner.py", ["digitlab/runs/runner/cluster.py"]),
    "cluster": ("digitlab/runs/runner/cluster.py", "tests/test_cluster.py tests/test_runner.py"),
    "health": ("digitlab/learn/health.py", "tests/test_health.py"),
    "lessons": ("digitlab/course/lessons.py", "tests/test_lessons.py"),
    "export": ("digitlab/course/export.py", "tests/test_export.py"),
}


def config_toml(paths: str, tests: str, timeout: float, excluded: list[str]) -> str:
    return (f'[cosmic-ray]\nmodule-path = "{paths}"\ntimeout = {timeout}\nexcluded-modules = {excluded!r}\n'
            f'test-command = "{TESTS} {tests}"\n\n[cosmic-ray.distributor]\nname = "local"\n')


def sample(session: Path, n: int, seed: int) -> int:
    """Keep n of the session's mutants, chosen at random by seed; returns how many there were."""
    with sqlite3.connect(session) as db:
        ids = sorted(r[0] for r in db.execute("SELECT job_id FROM work_items"))
        if n and n < len(ids):
            drop = set(ids) - set(random.Random(seed).sample(ids, n))
            db.executemany("DELETE FROM mutation_specs WHERE job_id=?", [(i,) for i in drop])
            db.executemany("DELETE FROM work_items WHERE job_id=?", [(i,) for i in drop])
    return len(ids)


def interval(k: int, n: int) -> tuple[float, float]:
    """The Wilson 95% interval of a share k/n."""
    if n == 0:
        return 0.0, 1.0
    z, p = 1.96, k / n
    mid, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return mid - half, mid + half


def score(name: str, work: Path, n: int, seed: int, log) -> tuple[int, int]:
    paths, tests, *excluded = MODULES[name]
    toml, session = work / f"{name}.toml", work / f"{name}.sqlite"
    baseline = time.perf_counter()
    if subprocess.run(f"{TESTS} {tests}", shell=True, cwd=work / "tree", capture_output=True).returncode != 0:
        raise SystemExit(f"{name}: its tests fail before any mutation: fix them first.")
    seconds = time.perf_counter() - baseline
    toml.write_text(config_toml(paths, tests, timeout=max(30.0, 5 * seconds), excluded=excluded[0] if excluded else []))
    subprocess.run([PY, "-m", "cosmic_ray.cli", "init", str(toml), str(session)], cwd=work / "tree", check=True,
                   capture_output=True)
    total = sample(session, n, seed)
    t0 = time.perf_counter()
    subprocess.run([PY, "-m", "cosmic_ray.cli", "exec", str(toml), str(session)], cwd=work / "tree", check=True,
                   capture_output=True)
    with sqlite3.connect(session) as db:
        rows = db.execute("SELECT r.test_outcome, r.worker_outcome, s.module_path, s.operator_name, s.start_pos_row, "
                          "r.diff FROM work_results r JOIN mutation_specs s USING (job_id)").fetchall()
    rows = [(str(outcome).upper(), str(worker).upper(), *rest) for outcome, worker, *rest in rows]
    broken = sum(1 for outcome, *_ in rows if outcome == "INCOMPETENT")  # the module no longer loads: no test needed
    rows = [r for r in rows if r[0] != "INCOMPETENT"]
    killed = sum(1 for outcome, worker, *_ in rows if outcome == "KILLED" or worker == "TIMEOUT")  # a hang is caught
    survived = [r for r in rows if r[0] == "SURVIVED" and r[1] != "TIMEOUT"]
    for _, _, path, op, line, diff in survived:
        log.write(f"--- {name}: {path}:{line} {op}\n{diff}\n")
    log.flush()  # each module's survivors as soon as it is scored
    lo, hi = interval(killed, len(rows))
    print(f"{name:<11} {len(rows):>4} of {total:>5} mutants  killed {killed:>4}  survived {len(survived):>3}  "
          f"{f'({broken} broke the module) ' if broken else ''}"
          f"score {killed / max(1, len(rows)):6.1%}  (95%: {lo:.0%}-{hi:.0%})  tests {seconds:4.1f} s, "
          f"{(time.perf_counter() - t0) / 60:4.1f} min", flush=True)
    return killed, len(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sample", type=int, default=25, help="mutants a module, at random (0: all of them)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--modules", nargs="+", choices=MODULES, default=list(MODULES))
    p.add_argument("--log", default="mutation-survivors.txt", help="where the survivors' diffs go")
    a = p.parse_args()
    try:
        import cosmic_ray  # noqa: F401
    except ImportError:
        raise SystemExit("cosmic-ray is not installed: run .venv/bin/pip install -r benchmarks/requirements.txt") from None
    with tempfile.TemporaryDirectory() as tmp, open(a.log, "w") as log:
        work = Path(tmp)
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(work / "tree"), "HEAD"], cwd=PROJECT, check=True)
        (work / "tree" / "data").symlink_to(PROJECT / "data")  # the real set, where a test uses it
        try:
            print(f"mutation testing HEAD ({subprocess.getoutput('git -C ' + str(PROJECT) + ' rev-parse --short HEAD')}),"
                  f" {a.sample or 'all'} mutants a module, seed {a.seed}", flush=True)
            totals = [score(name, work, a.sample, a.seed, log) for name in a.modules]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(work / "tree")], cwd=PROJECT)
    killed, tried = map(sum, zip(*totals))
    lo, hi = interval(killed, tried)
    print(f"{'all':<11} {tried:>4} mutants  killed {killed:>4}  score {killed / max(1, tried):6.1%}  (95%: {lo:.0%}-{hi:.0%})"
          f"; survivors' diffs in {a.log}")


if __name__ == "__main__":
    main()
