"""MIMIC-IV (+ MIMIC-CXR-JPG) -> a cohort directory (docs/cohort-format.md, "MIMIC-IV").

Writes ``patients.csv`` (one row per ICU stay, plus ``subject_id``, ``hadm_id``, ``stay_id``,
``do_not_intubate`` and ``do_not_intubate_since``), ``measurements.csv``, ``events.csv``
(ventilation starts), ``films.csv`` (with ``--cxr``), ``cohort.json`` and
``import-summary.json``. MIMIC-IV times are
de-identified, shifted local times without a zone; they are written as UTC.
"""

from __future__ import annotations

import csv
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from model.cohort import EVENT_COLUMNS, FILM_COLUMNS, PATIENT_COLUMNS, write_meta
from model.cohorts.mimic import cxr, measurements, stays, ventilation
from model.cohorts.mimic import itemids as ids
from model.cohorts.mimic.engine import Engine
from model.cohorts.mimic.errors import MimicImportError
from model.cohorts.mimic.report import SUMMARY_FILE, MimicImportReport
from model.cohorts.mimic.tables import (
    COLUMNS,
    Table,
    detect_version,
    find_cxr_metadata,
    find_tables,
)

log = logging.getLogger(__name__)

IMPORTER_VERSION = "1"
#: After the standard columns; ``do_not_intubate`` takes the stay out of the label population.
PATIENT_EXTRA_COLUMNS = (
    "subject_id", "hadm_id", "stay_id", "do_not_intubate", "do_not_intubate_since",
)  # fmt: skip
SCRATCH = ".mimic-import-tmp"
_WRITTEN = ("cohort.json", "patients.csv", "measurements.csv", "events.csv", "films.csv")
LICENCES = {
    "credentialed": "PhysioNet Credentialed Health Data License 1.5.0: credentialed access, "
    "a signed data use agreement; never share or commit this cohort",
    "demo": "MIMIC-IV demo: Open Data Commons Open Database License v1.0",
}


@dataclass(frozen=True, slots=True)
class MimicImportOptions:
    """How to import. ``pre_stay_h``: measurements and films this long before ``intime`` are
    kept, so the first prediction hours have a history (default: the film max age, 72 h)."""

    all_stays: bool = False
    pre_stay_h: float = 72.0
    memory_limit: str = "2GB"
    threads: int = 0
    overwrite: bool = False


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise MimicImportError(f"--out {out} is a file, not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "cohort.json").exists():
            raise MimicImportError(f"--out {out} is not empty and holds no cohort; choose another")
        if not overwrite:
            raise MimicImportError(f"--out {out} already holds a cohort (--overwrite replaces it)")
        for name in (*_WRITTEN, SUMMARY_FILE):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _check_dictionaries(engine: Engine, tables: dict[str, Table], *, labs: bool) -> list[str]:
    """Warnings for mapped itemids whose d_items / d_labitems label differs or is missing."""
    warnings: list[str] = []
    checks = [("icu/d_items", ids.expected_chart_labels(with_lab_fallback=not labs))]
    if labs:
        checks.append(("hosp/d_labitems", ids.expected_lab_labels()))
    for name, expected in checks:
        table = tables.get(name)
        if table is None:
            warnings.append(f"{name} absent: item labels not checked")
            continue
        found = {
            int(i): str(label)
            for i, label in engine.rows(
                f"read {name}",
                f"SELECT itemid, label FROM {table.scan()} WHERE itemid IN "
                f"({', '.join(str(i) for i in expected)})",
            )
        }
        absent = [f"{i} {label}" for i, label in sorted(expected.items()) if i not in found]
        if absent:
            warnings.append(f"{name}: not in this release (so never charted): {', '.join(absent)}")
        for itemid, label in sorted(expected.items()):
            if itemid in found and _norm(found[itemid]) != _norm(label):
                warnings.append(
                    f"{name}: item {itemid} is {found[itemid]!r} here, expected {label!r}"
                )
    return warnings


def _norm(label: str) -> str:
    return " ".join(label.lower().split())


def _not_used(root: Path) -> list[str]:
    read = {name for name in COLUMNS if not name.startswith("cxr/")}
    present = {
        f"{p.parent.name}/{p.name.split('.')[0]}"
        for module in ("hosp", "icu")
        for p in (root / module).glob("*.csv*")
    }
    return sorted(present - read)


def _write_patients(engine: Engine, out: Path) -> None:
    rows = engine.rows(
        "read stays",
        """
        SELECT s.key, s.age, s.sex, s.intime, s.stay_end, s.subject_id, s.hadm_id, s.stay_id,
               d.since
        FROM stays s LEFT JOIN dni d USING (stay_id) ORDER BY s.stay_id
        """,
    )
    with (out / "patients.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PATIENT_COLUMNS + PATIENT_EXTRA_COLUMNS)
        for key, age, sex, start, end, subject, hadm, stay, since in rows:
            writer.writerow(
                (key, "" if age is None else age, sex or "", _iso(start), _iso(end), subject,
                 hadm, stay, int(since is not None), _iso(since) if since else "")
            )  # fmt: skip


def _write_events(engine: Engine, out: Path) -> None:
    rows = engine.rows(
        "read ventilation",
        "SELECT s.key, v.start FROM vent v JOIN stays s USING (stay_id) ORDER BY s.stay_id",
    )
    with (out / "events.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EVENT_COLUMNS)
        writer.writerows((key, _iso(start)) for key, start in rows)


def _write_films(out: Path, films: list[cxr.LinkedFilm]) -> None:
    with (out / "films.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FILM_COLUMNS)
        for f in films:
            writer.writerow(
                (f.key, f.time.isoformat(), str(f.path), f.dicom_id, f.view, cxr.JPG_PHOTOMETRIC,
                 cxr.JPG_BITS, f.study_id, "")
            )  # fmt: skip


def _iso(value: object) -> str:
    return f"{value:%Y-%m-%dT%H:%M:%S}+00:00"


def import_mimic(
    mimic: Path, out: Path, *, cxr_root: Path | None = None, options: MimicImportOptions
) -> MimicImportReport:
    """Import MIMIC-IV under ``mimic`` (and MIMIC-CXR-JPG under ``cxr_root``) into ``out``.

    Raises MimicImportError for a wrong folder, a missing required table or a foreign layout.
    The cohort is written even when empty; ``report.empty`` says so (the CLI then fails).
    """
    started = time.perf_counter()
    if not 0 <= options.pre_stay_h <= 24 * 30:
        raise MimicImportError(f"--pre-stay-h must be 0-720 hours, not {options.pre_stay_h:g}")
    tables, absent = find_tables(mimic)
    metadata = find_cxr_metadata(cxr_root) if cxr_root is not None else None
    release, warnings = detect_version(mimic, tables)
    report = MimicImportReport(release=release, tables_absent=absent, warnings=warnings)
    report.tables_read = {t.name: str(t.path) for t in tables.values()}
    if metadata is not None:
        report.tables_read["mimic-cxr metadata"] = str(metadata.path)
    report.tables_not_used = _not_used(mimic)
    labs = "hosp/labevents" in tables
    if not labs:
        report.warnings.append(
            "hosp/labevents absent: blood gases and labs taken from chartevents' copies"
        )
    if "icu/procedureevents" not in tables:
        report.warnings.append("icu/procedureevents absent: ventilation from charting only")
    _prepare_out(out, options.overwrite)
    scratch = out / SCRATCH
    shutil.rmtree(scratch, ignore_errors=True)
    engine = Engine.open(scratch, memory_limit=options.memory_limit, threads=options.threads)
    try:
        report.warnings += _check_dictionaries(engine, tables, labs=labs)
        report.stays_excluded = stays.build_stays(engine, tables, all_stays=options.all_stays)
        report.stays_in_source = engine.scalar("count", "SELECT count(*) FROM source_stays")
        report.stays = engine.scalar("count", "SELECT count(*) FROM stays")
        unknown = stays.count_unknown_patients(engine)
        if unknown:
            report.warnings.append(f"{unknown} stays of subjects missing from hosp/patients")
        measurements.scan_chartevents(engine, tables["icu/chartevents"], with_lab_fallback=not labs)
        if labs:
            measurements.scan_labevents(engine, tables["hosp/labevents"])
        measurements.build_measurements(engine, with_labs=labs, pre_stay_h=options.pre_stay_h)
        report.rejected = measurements.rejected_counts(engine)
        if labs:
            outside = measurements.labs_outside_stays(engine, options.pre_stay_h)
            if outside:
                report.rejected["labs: taken outside every selected ICU stay"] = outside
        report.measurements = measurements.write_measurements(engine, out / "measurements.csv")
        ventilation.build_ventilation(engine, tables.get("icu/procedureevents"))
        counts = ventilation.ventilation_counts(engine)
        report.ventilated, report.ventilation_sources, report.ventilated_on_arrival = counts
        report.code_status_values = ventilation.build_code_status(engine)
        report.dni = engine.scalar("count dni", "SELECT count(*) FROM dni")
        films: list[cxr.LinkedFilm] = []
        if metadata is not None:
            films, report.films_rejected = cxr.link_films(
                engine, metadata, pre_stay_h=options.pre_stay_h
            )
        report.films = len(films)
        report.stays_with_films = len({f.key for f in films})
        _write_patients(engine, out)
        _write_events(engine, out)
        _write_films(out, films)
    finally:
        engine.close()
        shutil.rmtree(scratch, ignore_errors=True)
    demo = release.endswith("demo")
    write_meta(
        out,
        synthetic=False,
        source="mimic-iv",
        generator="ventfusion.model.cohorts.mimic",
        importer_version=IMPORTER_VERSION,
        mimic_release=release,
        mimic_cxr=metadata is not None,
        licence=LICENCES["demo" if demo and metadata is None else "credentialed"],
        mrn_system=stays.STAY_SYSTEM,
        patients=report.stays,
        ventilated=report.ventilated,
        dni=report.dni,
        films=report.films,
        all_stays=options.all_stays,
        pre_stay_h=options.pre_stay_h,
    )
    report.seconds = time.perf_counter() - started
    report.write(out / SUMMARY_FILE)
    return report
