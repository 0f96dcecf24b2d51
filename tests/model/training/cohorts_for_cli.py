"""Variants of the tiny test cohort for the ``ventfusion train`` / ``evaluate`` CLI tests: without
films, without labels, and site (not synthetic) data."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from model.cohort import EVENT_COLUMNS, FILM_COLUMNS

#: Small and fast: one epoch, a 12 h lookback, a 16-unit EHR encoder.
FAST = [
    "--epochs", "1", "--film-epochs", "1", "--film-size", "32", "--lookback-h", "12",
    "--hidden", "16", "--val-fraction", "0.34", "--seed", "3", "--threads", "1",
]  # fmt: skip


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def _header_only(path: Path, columns: tuple[str, ...]) -> None:
    with path.open("w", newline="") as out:
        csv.writer(out).writerow(columns)


def without_films(src: Path, dest: Path) -> Path:
    """The cohort with an empty films.csv (an EHR-only export, as from FHIR bulk data)."""
    _copy(src, dest)
    _header_only(dest / "films.csv", FILM_COLUMNS)
    shutil.rmtree(dest / "films", ignore_errors=True)
    return dest


def without_labels(src: Path, dest: Path) -> Path:
    """The cohort with an empty events.csv (no ventilation start recorded)."""
    _copy(src, dest)
    _header_only(dest / "events.csv", EVENT_COLUMNS)
    return dest


def as_site_data(src: Path, dest: Path) -> Path:
    """The cohort marked as site data (``synthetic: false``)."""
    _copy(src, dest)
    meta = json.loads((dest / "cohort.json").read_text())
    meta.update(synthetic=False, name="site-icu-2025")
    (dest / "cohort.json").write_text(json.dumps(meta))
    return dest
