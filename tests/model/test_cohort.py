"""model.cohort: the do-not-intubate columns of patients.csv are read, and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.cohort import CohortFormatError, read_cohort
from tests.model.cohort_factory import write_tiny_cohort


def _rewrite_patients(root: Path, flags: list[tuple[str, str]]) -> None:
    path = root / "patients.csv"
    lines = path.read_text().splitlines()
    out = [lines[0] + ",do_not_intubate,do_not_intubate_since"]
    for line, (flag, since) in zip(lines[1:], flags, strict=True):
        out.append(f"{line},{flag},{since}")
    path.write_text("\n".join(out) + "\n")


def test_do_not_intubate_is_read(tmp_path: Path) -> None:
    root = write_tiny_cohort(tmp_path / "c", n_patients=3)
    _rewrite_patients(root, [("1", "2026-01-05T09:00:00+00:00"), ("0", ""), ("", "")])
    patients = read_cohort(root).patients
    assert [p.do_not_intubate for p in patients] == [True, False, False]
    assert patients[0].do_not_intubate_since is not None
    assert patients[0].do_not_intubate_since.hour == 9
    assert patients[1].do_not_intubate_since is None


def test_absent_columns_mean_not_dni(tmp_path: Path) -> None:
    root = write_tiny_cohort(tmp_path / "c", n_patients=2)
    assert not any(p.do_not_intubate for p in read_cohort(root).patients)


def test_a_malformed_flag_fails_closed(tmp_path: Path) -> None:
    root = write_tiny_cohort(tmp_path / "c", n_patients=2)
    _rewrite_patients(root, [("yes", ""), ("0", "")])
    with pytest.raises(CohortFormatError):
        read_cohort(root)
