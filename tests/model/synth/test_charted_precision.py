"""The simulator writes each value with the precision of the variable registry."""

from __future__ import annotations

import csv
from pathlib import Path

from model.variables import BY_NAME


def test_measurements_carry_the_registry_decimals(cohort_root: Path) -> None:
    with (cohort_root / "measurements.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    seen: set[str] = set()
    for row in rows:
        decimals = BY_NAME[row["variable"]].decimals
        fraction = row["value"].partition(".")[2]
        assert len(fraction) == decimals, row
        seen.add(row["variable"])
    assert {"ph", "creatinine", "heart_rate"} <= seen
