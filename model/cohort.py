"""The cohort directory: the training/evaluation input (DESIGN §6, docs/cohort-format.md).

Written by the simulator (``model.synth``) and the FHIR bulk importer; read by training.
Times are ISO-8601 UTC strings in the CSVs; prediction times and labels are derived, never stored.

Layout::

    cohort/
      cohort.json        # {"format": "ventfusion-cohort", "version": 1, "synthetic": bool, ...}
      patients.csv       # patient_key,age,sex,stay_start,stay_end[,do_not_intubate,
                         #   do_not_intubate_since]  (DNI / comfort care: 0/1, time)
      measurements.csv   # patient_key,time,variable,value          (canonical units)
      films.csv          # patient_key,time,path,sop_instance_uid,view[,photometric,bits_stored,
                         #   study_instance_uid,series_instance_uid]  (path relative to cohort/;
                         #   PNG = stored pixel values, see docs/cohort-format.md)
      events.csv         # patient_key,ventilation_start
      oracle.csv         # patient_key,time,probability   (simulator only: true P(vent within 24 h))
      extras.csv         # patient_key,<simulator-only columns, e.g. phenotype>  (optional)
      film_truth.csv     # patient_key,sop_instance_uid,<latent findings>  (simulator, optional)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from model import ModelError
from model.age import plausible_age

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
    #: Do-not-intubate / comfort-care stay (patients.csv ``do_not_intubate``): outside the label
    #: population of training and evaluation.
    do_not_intubate: bool = False
    do_not_intubate_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class CohortFilm:
    key: str
    time: datetime
    path: str
    sop_instance_uid: str
    view: str = "AP"
    photometric: str = "MONOCHROME2"  # of the stored PNG values (MONOCHROME1: higher = darker)
    bits_stored: int = 16
    study_instance_uid: str = ""
    series_instance_uid: str = ""


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
    film_truth: dict[str, dict[str, str]] = field(default_factory=dict)  # by SOP Instance UID

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


def _read_measurements(path: Path, cohort: Cohort) -> None:
    """Column-wise fast path for the largest file (millions of rows)."""
    if not path.exists():
        raise CohortFormatError(f"cohort file missing: {path.name}")
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise CohortFormatError(f"{path.name} is empty")
        try:
            ik, it, iv, ix = (header.index(c) for c in MEASUREMENT_COLUMNS)
        except ValueError as exc:
            raise CohortFormatError(f"{path.name}: missing column ({exc})") from exc
        keys: dict[str, str] = {}
        names: dict[str, str] = {}
        fromiso = datetime.fromisoformat
        m_key, m_time, m_var, m_val = cohort.m_key, cohort.m_time, cohort.m_variable, cohort.m_value
        for row in reader:
            key = row[ik]
            m_key.append(keys.setdefault(key, key))
            m_time.append(fromiso(row[it]))
            var = row[iv]
            m_var.append(names.setdefault(var, var))
            m_val.append(float(row[ix]))
    if any(t.tzinfo is None for t in m_time):
        raise CohortFormatError(f"{path.name}: times without zone")


def _film(r: dict[str, str]) -> CohortFilm:
    return CohortFilm(
        r["patient_key"],
        parse_time(r["time"]),
        r["path"],
        r["sop_instance_uid"],
        r.get("view") or "AP",
        r.get("photometric") or "MONOCHROME2",
        int(r.get("bits_stored") or 16),
        r.get("study_instance_uid") or "",
        r.get("series_instance_uid") or "",
    )


def _flag(text: str | None) -> bool:
    """A 0/1 column that may be absent or empty (= 0); anything else is malformed."""
    if text in (None, "", "0"):
        return False
    if text == "1":
        return True
    raise ValueError(f"expected 0 or 1, got {text!r}")


def read_meta(root: Path) -> dict[str, object]:
    """``cohort.json`` of a cohort directory (checked to be one)."""
    meta_path = root / "cohort.json"
    if not meta_path.exists():
        raise CohortFormatError(f"{root} is not a cohort directory (no cohort.json)")
    meta = json.loads(meta_path.read_text())
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise CohortFormatError(f"{meta_path}: format is not {FORMAT_NAME!r}")
    return meta


def read_films(root: Path) -> list[CohortFilm]:
    """The films of a cohort (``films.csv``; none when it is absent)."""
    try:
        return [_film(r) for r in _rows(root / "films.csv", required=False)]
    except (KeyError, ValueError, IndexError) as exc:
        raise CohortFormatError(f"{root}: malformed films.csv row ({exc})") from exc


def read_cohort(root: Path) -> Cohort:
    """Load a cohort directory; raises CohortFormatError with the offending file on bad input."""
    meta = read_meta(root)
    try:
        patients = [
            CohortPatient(
                key=r["patient_key"],
                age=plausible_age(float(r["age"])) if r.get("age") else None,
                sex=r.get("sex") or None,
                stay_start=parse_time(r["stay_start"]),
                stay_end=parse_time(r["stay_end"]),
                do_not_intubate=_flag(r.get("do_not_intubate")),
                do_not_intubate_since=(
                    parse_time(r["do_not_intubate_since"])
                    if r.get("do_not_intubate_since")
                    else None
                ),
            )
            for r in _rows(root / "patients.csv")
        ]
        cohort = Cohort(root=root, meta=meta, patients=patients)
        _read_measurements(root / "measurements.csv", cohort)
        cohort.films = read_films(root)
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
        for r in _rows(root / "film_truth.csv", required=False):
            r.pop("patient_key", None)
            cohort.film_truth[r.pop("sop_instance_uid")] = dict(r)
    except (KeyError, ValueError, IndexError) as exc:
        raise CohortFormatError(f"{root}: malformed cohort row ({exc})") from exc
    return cohort


def write_meta(root: Path, *, synthetic: bool, **extra: object) -> None:
    """Write cohort.json; callers write the CSVs with the headers documented above."""
    root.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "synthetic": synthetic, **extra}
    (root / "cohort.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


PATIENT_COLUMNS = ("patient_key", "age", "sex", "stay_start", "stay_end")
MEASUREMENT_COLUMNS = ("patient_key", "time", "variable", "value")
FILM_COLUMNS = (
    "patient_key", "time", "path", "sop_instance_uid", "view",
    "photometric", "bits_stored", "study_instance_uid", "series_instance_uid",
)  # fmt: skip
EVENT_COLUMNS = ("patient_key", "ventilation_start")
ORACLE_COLUMNS = ("patient_key", "time", "probability")
