"""Finding and checking the MIMIC-IV / MIMIC-CXR-JPG CSV files, and scanning them with DuckDB.

A table is ``<module>/<name>.csv`` or ``.csv.gz`` (PhysioNet ships ``.csv.gz``). Columns are
matched by name, so releases that add columns (v2.2 added ``caregiver_id``) read the same; the
columns the importer uses are typed explicitly, every other one is read as text and dropped.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path

from model.cohorts.mimic.errors import MimicImportError

#: Columns read from each table, with their DuckDB types (the official MIMIC-IV column names).
COLUMNS: dict[str, dict[str, str]] = {
    "hosp/patients": {
        "subject_id": "BIGINT", "gender": "VARCHAR", "anchor_age": "INTEGER",
        "anchor_year": "INTEGER",
    },
    "hosp/admissions": {"subject_id": "BIGINT", "hadm_id": "BIGINT", "deathtime": "TIMESTAMP"},
    # The two big event tables: times and numbers stay text while scanning and are cast only
    # for the rows the item filter keeps (a quarter faster than parsing every row).
    "hosp/labevents": {
        "subject_id": "BIGINT", "specimen_id": "BIGINT", "itemid": "INTEGER",
        "charttime": "VARCHAR", "value": "VARCHAR", "valuenum": "VARCHAR",
    },
    "hosp/d_labitems": {"itemid": "INTEGER", "label": "VARCHAR"},
    "icu/icustays": {
        "subject_id": "BIGINT", "hadm_id": "BIGINT", "stay_id": "BIGINT",
        "intime": "TIMESTAMP", "outtime": "TIMESTAMP",
    },
    "icu/chartevents": {
        "stay_id": "BIGINT", "charttime": "VARCHAR", "itemid": "INTEGER", "value": "VARCHAR",
        "valuenum": "VARCHAR",
    },
    "icu/procedureevents": {
        "stay_id": "BIGINT", "starttime": "TIMESTAMP", "itemid": "INTEGER",
        "statusdescription": "VARCHAR",
    },
    "icu/d_items": {"itemid": "INTEGER", "label": "VARCHAR"},
    "cxr/metadata": {
        "dicom_id": "VARCHAR", "subject_id": "BIGINT", "study_id": "BIGINT",
        "ViewPosition": "VARCHAR", "StudyDate": "VARCHAR", "StudyTime": "VARCHAR",
    },
}  # fmt: skip
REQUIRED = ("hosp/patients", "icu/icustays", "icu/chartevents")
OPTIONAL = (
    "hosp/admissions", "hosp/labevents", "hosp/d_labitems", "icu/procedureevents", "icu/d_items",
)  # fmt: skip
CXR_METADATA = "mimic-cxr-2.0.0-metadata"
_VERSION = re.compile(r"(?<![\d.])(\d+)\.(\d+)(?:\.\d+)?(?![\d.])")


@dataclass(frozen=True, slots=True)
class Table:
    """One CSV file found on disk, with its header."""

    name: str
    path: Path
    header: tuple[str, ...]

    def scan(self) -> str:
        """A DuckDB ``read_csv`` expression over this file (used columns typed, others text)."""
        wanted = COLUMNS[self.name]
        cols = ", ".join(f"{_quote(c)}: '{wanted.get(c, 'VARCHAR')}'" for c in self.header)
        return (
            f"read_csv({_quote(str(self.path))}, header = true, auto_detect = false, "
            f"columns = {{{cols}}}, quote = '\"', escape = '\"', nullstr = '')"
        )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _header(path: Path) -> tuple[str, ...]:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
                line = handle.readline()
        else:
            with path.open(encoding="utf-8", newline="") as handle:
                line = handle.readline()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise MimicImportError(f"{path}: cannot read the header ({exc})") from exc
    row = next(csv.reader(io.StringIO(line)), [])
    return tuple(c.strip() for c in row)


def find_file(folder: Path, stem: str) -> Path | None:
    """``stem.csv`` or ``stem.csv.gz`` in ``folder`` (uncompressed preferred: faster to scan)."""
    for suffix in (".csv", ".csv.gz"):
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def open_table(name: str, path: Path) -> Table:
    """Read the header of ``path`` and check that it has the columns the importer uses."""
    header = _header(path)
    missing = [c for c in COLUMNS[name] if c not in header]
    if missing:
        raise MimicImportError(
            f"{path}: not the MIMIC {name} layout, missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(header[:12]) or 'no header'})"
        )
    return Table(name, path, header)


def check_layout(root: Path) -> None:
    """Raise a clear error when ``root`` is not a MIMIC-IV v2.x/3.x directory."""
    if not root.is_dir():
        raise MimicImportError(f"--mimic {root}: no such directory")
    if (root / "hosp").is_dir() and (root / "icu").is_dir():
        if (root / "core").is_dir():
            raise MimicImportError(
                f"{root} has a core/ module: that is the MIMIC-IV v1.0 layout, which is not "
                "supported; use MIMIC-IV v2.x or 3.x (patients and admissions in hosp/)"
            )
        return
    if find_file(root, "CHARTEVENTS") or find_file(root, "ICUSTAYS"):
        raise MimicImportError(f"{root} looks like MIMIC-III, which is not supported")
    below = sorted(p.parent for p in root.glob("*/hosp") if (p.parent / "icu").is_dir())
    below += sorted(p.parent for p in root.glob("*/*/hosp") if (p.parent / "icu").is_dir())
    hint = f"; did you mean --mimic {below[-1]}?" if below else ""
    raise MimicImportError(
        f"{root} is not a MIMIC-IV directory: expected its hosp/ and icu/ modules in it{hint}"
    )


def find_tables(root: Path) -> tuple[dict[str, Table], list[str]]:
    """The MIMIC-IV tables under ``root``; raises when a required one is missing.

    Returns the tables found and the names of optional tables that are absent.
    """
    check_layout(root)
    tables: dict[str, Table] = {}
    absent: list[str] = []
    for name in REQUIRED + OPTIONAL:
        module, stem = name.split("/")
        path = find_file(root / module, stem)
        if path is None:
            if name in REQUIRED:
                raise MimicImportError(
                    f"required table {name}.csv(.gz) not found under {root} "
                    f"(needed: {', '.join(REQUIRED)})"
                )
            absent.append(name)
            continue
        tables[name] = open_table(name, path)
    return tables, absent


def find_cxr_metadata(cxr: Path) -> Table:
    """MIMIC-CXR-JPG's metadata file in ``cxr`` (the folder holding it and ``files/``)."""
    if not cxr.is_dir():
        raise MimicImportError(f"--cxr {cxr}: no such directory")
    path = find_file(cxr, CXR_METADATA)
    if path is None:
        raise MimicImportError(
            f"--cxr {cxr}: {CXR_METADATA}.csv(.gz) not found; point --cxr at the MIMIC-CXR-JPG "
            "folder that holds it and files/"
        )
    if not (cxr / "files").is_dir():
        raise MimicImportError(
            f"--cxr {cxr}: no files/ folder with the JPG tree beside the metadata"
        )
    return open_table("cxr/metadata", path)


def detect_version(root: Path, tables: dict[str, Table]) -> tuple[str, list[str]]:
    """A description of the release (folder name and column layout) and any warnings."""
    warnings: list[str] = []
    layout = "2.2+" if "caregiver_id" in tables["icu/chartevents"].header else "2.0-2.1"
    named = ""
    for part in reversed(root.resolve().parts[-2:]):
        match = _VERSION.search(part)
        if match:
            named = f"{match.group(1)}.{match.group(2)}"
            major = int(match.group(1))
            if major == 1:
                raise MimicImportError(
                    f"{root}: MIMIC-IV {named} is not supported; use MIMIC-IV v2.x or 3.x"
                )
            if major > 3:
                warnings.append(
                    f"MIMIC-IV {named} is newer than the releases this importer was written "
                    "for (2.x, 3.x); the columns it reads are present, but check the summary"
                )
            break
    demo = "demo" in root.resolve().name.lower()
    label = f"{named or 'unknown'} (column layout {layout}){' demo' if demo else ''}"
    return label, warnings
