"""The fault drill: a small class (two students, each with a run training, drawings and a lesson answer) through a
worker, the supervisor and the app killed with SIGKILL mid-epoch, a power cut (the app and its worker at once), the
disk filling mid-run (a real 24 MB tmpfs: needs root; skipped with the reason where it cannot be mounted), a damaged
checkpoint, a damaged store put back with `digitlab restore`, and two servers on one store. For each it prints what
was lost, counting a run that did not end completed or whose figures differ from the same run never disturbed:
nothing, case after case. Asserts nothing (tests/test_faults.py holds each case).

Run: .venv/bin/python benchmarks/faults.py [--cases "worker killed" "disk full" ...] [--keep FOLDER]
"""

import argparse
import shutil
import tempfile
from pathlib import Path

from testkit import faults


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", choices=list(faults.CASES), default=list(faults.CASES))
    p.add_argument("--keep", help="a folder to leave each case's store in (default: a temporary one, removed)")
    a = p.parse_args()
    base = Path(a.keep or tempfile.mkdtemp(prefix="digitlab-faults-"))
    data_root = faults.dataset(base / "data")
    print(f"{'case':<46} {'seconds':>7}  lost")
    try:
        for k, case in enumerate(a.cases):
            out = faults.run(case, base / f"case-{k}", data_root)
            lost = f"skipped: {out.skipped}" if out.skipped else ("; ".join(out.lost) or "nothing")
            print(f"{out.case:<46} {out.seconds:>7.1f}  {lost}")
            if out.said:
                print(f"{'':<46} {'':>7}  ({out.said})")
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
