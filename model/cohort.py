"""The cohort directory: the training/evaluation input (DESIGN §6, docs/cohort-format.md).

Written by the simulator (``model.synth``) and the FHIR bulk importer; read by training.
Times are ISO-8601 UTC strings in the CSVs; prediction times and labels are derived, never stored.

Layout::

    cohort/
      cohort.json        # {"format": "ventfusion-cohort", "version": 1, "synthetic": bool, ...}
      patients.csv       # patient_key,age,sex,stay_start,stay_end
      measurements.csv   # patient_key,time,variable,value          (canonical units)
      films.csv          # patient_key,time,path,sop_instance_uid,view   (path relative to cohort/)
      events.csv         # patient_key,ventilation_start
      oracle.csv         # patient_key,time,probability   (simulator only: true P(vent within 24 h))
      extras.csv         # patient_key,<simulator-only columns, e.g. phenotype>  (optional)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from model import ModelError

FORMAT_NAME = "ventfusion-cohort"
FORMAT_VERSION = 1


class CohortFormatError(ModelError):
    """The cohort directory is missing files or holds malformed rows."""


@dataclass(frozen=True, slots=True)
class CohortPatient:
    key: str
    age: float | None
    sex: str | None
    stay_start: datetime
    stay_end: datetime


@dataclass(frozen=True, slots=True)
class CohortFilm:
    key: str
    time: datetime
    path: str
    sop_instance_uid: str
    view: str = "AP"


@dataclass(slots=True)
class Cohort:
    """A cohort loaded in memory. Measurements are kept column-wise for speed."""

    root: Path
    meta: dict[str, object]
    patients: list[CohortPatient]
    m_key: list[str] = field(default_factory=list)
    m_time: list[datetime] = field(default_factory=list)
    m_variable: list[str] = field(default_factory=list)
    m_value: list[float] = field(default_factory=list)
    films: list[CohortFilm] = field(default_factory=list)
    ventilation_start: dict[str, datetime] = field(default_factory=dict)
    oracle: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    extras: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return bool(self.meta.get("synthetic", False))


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise CohortFormatError(f"time without zone: {text!r}")
    return value


def _rows(path: Path, required: bool = True) -> Iterable[dict[str, str]]:
    if not path.exists():
        if required:
            raise CohortFormatError(f"cohort file missing: {path.name}")
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def read_cohort(root: Path) -> Cohort:
    """Load a cohort directory; raises CohortFormatError with the offending file on bad input."""
    meta_path = root / "cohort.json"
    if not meta_path.exists():
        raise CohortFormatError(f"{root} is not a cohort directory (no cohort.json)")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT_NAME:
        raise CohortFormatError(f"{meta_path}: format is not {FORMAT_NAME!r}")
    try:
        patients = [
            CohortPatient(
                key=r["patient_key"],
                age=float(r["age"]) if r.get("age") else None,
                sex=r.get("sex") or None,
                stay_start=parse_time(r["stay_start"]),
                stay_end=parse_time(r["stay_end"]),
            )
            for r in _rows(root / "patients.csv")
        ]
        cohort = Cohort(root=root, meta=meta, patients=patients)
        for r in _rows(root / "measurements.csv"):
            cohort.m_key.append(r["patient_key"])
            cohort.m_time.append(parse_time(r["time"]))
            cohort.m_variable.append(r["variable"])
            cohort.m_value.append(float(r["value"]))
        cohort.films = [
            CohortFilm(
                r["patient_key"],
                parse_time(r["time"]),
                r["path"],
                r["sop_instance_uid"],
                r.get("view") or "AP",
            )
            for r in _rows(root / "films.csv", required=False)
        ]
        cohort.ventilation_start = {
            r["patient_key"]: parse_time(r["ventilation_start"])
            for r in _rows(root / "events.csv", required=False)
            if r.get("ventilation_start")
        }
        for r in _rows(root / "oracle.csv", required=False):
            cohort.oracle.setdefault(r["patient_key"], []).append(
                (parse_time(r["time"]), float(r["probability"]))
            )
        for r in _rows(root / "extras.csv", required=False):
            key = r.pop("patient_key")
            cohort.extras[key] = dict(r)
    except (KeyError, ValueError) as exc:
        raise CohortFormatError(f"{root}: malformed cohort row ({exc})") from exc
    return cohort


def write_meta(root: Path, *, synthetic: bool, **extra: object) -> None:
    """Write cohort.json; callers write the CSVs with the headers documented above."""
    root.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "synthetic": synthetic, **extra}
    (root / "cohort.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


PATIENT_COLUMNS = ("patient_key", "age", "sex", "stay_start", "stay_end")
MEASUREMENT_COLUMNS = ("patient_key", "time", "variable", "value")
FILM_COLUMNS = ("patient_key", "time", "path", "sop_instance_uid", "view")
EVENT_COLUMNS = ("patient_key", "ventilation_start")
ORACLE_COLUMNS = ("patient_key", "time", "probability")
