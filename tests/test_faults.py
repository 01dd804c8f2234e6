"""The fault drill's cases (testkit/faults.py, printed by benchmarks/faults.py): whatever the power, the disk or a
careless hand does to a small class, nothing is lost and every run ends where it would have ended undisturbed."""

import pytest

from testkit import faults


@pytest.fixture(scope="module")
def drill_data(tmp_path_factory):
    return faults.dataset(tmp_path_factory.mktemp("drill") / "data")


@pytest.mark.parametrize("case", list(faults.CASES))
def test_nothing_is_lost(case, tmp_path, drill_data):
    out = faults.run(case, tmp_path, drill_data)
    if out.skipped:
        pytest.skip(f"{case}: {out.skipped}")
    assert out.lost == [], f"{case} lost: {out.lost} ({out.said})"
