"""What the MIMIC importer accepts (v2.0 and v2.2+ layouts, .csv or .csv.gz, optional tables
absent) and how it refuses what it cannot read."""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from model.cohorts.mimic import MimicImportError, MimicImportOptions, import_mimic
from tests.model.cohorts.mimic_fixture import Fixture, write_mimic_fixture
from tests.model.cohorts.mimic_layout import write_table

OPTIONS = MimicImportOptions(threads=1)


def _drop_column(path: Path, column: str) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    at = rows[0].index(column)
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(r[:at] + r[at + 1 :] for r in rows)


def test_v20_layout_uncompressed_reads_the_same(tmp_path: Path, mimic_import) -> None:  # type: ignore[no-untyped-def]
    fx = write_mimic_fixture(tmp_path, gz=False)
    for table, column in (
        ("icu/chartevents", "caregiver_id"),
        ("icu/procedureevents", "caregiver_id"),
        ("hosp/labevents", "order_provider_id"),
        ("hosp/admissions", "admit_provider_id"),
    ):
        _drop_column(fx.mimic / f"{table}.csv", column)
    report = import_mimic(fx.mimic, tmp_path / "cohort", cxr_root=fx.cxr, options=OPTIONS)
    _, reference = mimic_import
    assert "column layout 2.0-2.1" in report.release
    assert report.measurements == reference.measurements
    assert report.ventilated == reference.ventilated
    assert report.films == reference.films


def test_without_labevents_the_charted_copies_are_used(tmp_path: Path) -> None:
    fx = write_mimic_fixture(tmp_path, cxr=False)
    (fx.mimic / "hosp" / "labevents.csv.gz").unlink()
    (fx.mimic / "icu" / "procedureevents.csv.gz").unlink()
    report = import_mimic(fx.mimic, tmp_path / "cohort", options=OPTIONS)
    assert set(report.tables_absent) == {"hosp/labevents", "icu/procedureevents"}
    assert any("labevents absent" in w for w in report.warnings)
    assert any("charting only" in w for w in report.warnings)
    ends = {
        s.stay: f"{s.at(s.hours - 4) if s.dies else s.outtime:%Y-%m-%d %H:%M:%S}"
        for s in fx.first_stays()
    }
    charted = [r for r in fx.chart if r[6] == 220224 and r[2] in ends and str(r[4]) <= ends[r[2]]]
    assert charted
    assert report.measurements["pao2"] == len(charted)
    assert report.ventilation_sources == {"charting": 6}  # s[5] had only a procedureevents row


def test_a_relabelled_item_is_reported(tmp_path: Path) -> None:
    fx = write_mimic_fixture(tmp_path, cxr=False)
    path = fx.mimic / "icu" / "d_items.csv.gz"
    with gzip.open(path, "rt", newline="") as handle:
        rows = [r for r in csv.reader(handle) if r[0] != "223761"]
    rows = [[*r[:1], "Heart Rate Alarm - High", *r[2:]] if r[0] == "220045" else r for r in rows]
    with gzip.open(path, "wt", newline="") as handle:
        csv.writer(handle).writerows(rows)
    report = import_mimic(fx.mimic, tmp_path / "cohort", options=OPTIONS)
    assert any("220045 is 'Heart Rate Alarm - High'" in w for w in report.warnings)
    assert any(
        "not in this release" in w and "223761 Temperature Fahrenheit" in w for w in report.warnings
    )


def _tree(root: Path) -> Path:
    mimic = root / "mimiciv" / "2.2"
    write_table(
        mimic / "hosp" / "patients", "hosp/patients", [[10000032, "F", 52, 2180, "x", None]]
    )
    write_table(mimic / "icu" / "icustays", "icu/icustays", [])
    write_table(mimic / "icu" / "chartevents", "icu/chartevents", [])
    return mimic


def _missing(root: Path) -> Path:
    return root / "nowhere"


def _parent(root: Path) -> Path:
    return _tree(root).parent


def _empty(root: Path) -> Path:
    (root / "empty").mkdir()
    return root / "empty"


def _v1_core(root: Path) -> Path:
    mimic = _tree(root)
    (mimic / "core").mkdir()
    return mimic


def _v1_name(root: Path) -> Path:
    return _tree(root).rename(root / "mimiciv" / "1.0")


def _no_chartevents(root: Path) -> Path:
    mimic = _tree(root)
    (mimic / "icu" / "chartevents.csv.gz").unlink()
    return mimic


def _iii(root: Path) -> Path:
    folder = root / "mimic-iii"
    folder.mkdir()
    (folder / "CHARTEVENTS.csv.gz").write_bytes(gzip.compress(b"ROW_ID,SUBJECT_ID\n"))
    return folder


def _foreign_columns(root: Path) -> Path:
    mimic = _tree(root)
    path = mimic / "icu" / "icustays.csv.gz"
    path.write_bytes(gzip.compress(b"subject_id,hadm_id,icustay_id,intime,outtime\n"))
    return mimic


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        (_missing, "no such directory"),
        (_parent, "did you mean --mimic"),
        (_empty, "not a MIMIC-IV directory"),
        (_v1_core, "v1.0 layout"),
        (_v1_name, "MIMIC-IV 1.0 is not supported"),
        (_no_chartevents, "required table icu/chartevents"),
        (_iii, "looks like MIMIC-III"),
        (_foreign_columns, "missing column(s) stay_id"),
    ],
)
def test_clear_errors_for_what_is_not_mimic_iv(
    tmp_path: Path, arrange: Callable[[Path], Path], message: str
) -> None:
    with pytest.raises(MimicImportError, match=re.escape(message)):
        import_mimic(arrange(tmp_path), tmp_path / "out", options=OPTIONS)


def test_cxr_folder_must_hold_the_metadata_and_the_tree(tmp_path: Path) -> None:
    mimic = _tree(tmp_path)
    with pytest.raises(MimicImportError, match=r"mimic-cxr-2\.0\.0-metadata"):
        import_mimic(mimic, tmp_path / "out", cxr_root=tmp_path, options=OPTIONS)
    write_table(tmp_path / "cxr" / "mimic-cxr-2.0.0-metadata", "cxr/mimic-cxr-2.0.0-metadata", [])
    with pytest.raises(MimicImportError, match="no files/ folder"):
        import_mimic(mimic, tmp_path / "out", cxr_root=tmp_path / "cxr", options=OPTIONS)


def test_an_existing_output_is_replaced_only_when_asked(tmp_path: Path) -> None:
    mimic, out = _tree(tmp_path), tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(MimicImportError, match="not empty and holds no cohort"):
        import_mimic(mimic, out, options=OPTIONS)
    (out / "notes.txt").unlink()
    assert import_mimic(mimic, out, options=OPTIONS).empty  # no stays: written, but empty
    with pytest.raises(MimicImportError, match="--overwrite"):
        import_mimic(mimic, out, options=OPTIONS)
    report = import_mimic(mimic, out, options=MimicImportOptions(threads=1, overwrite=True))
    assert report.stays == 0
    assert (out / "cohort.json").is_file()


def test_fixture_is_what_the_other_tests_assume(mimic_tree: Fixture) -> None:
    ventilated = [s for s in mimic_tree.first_stays() if s.intubate_h is not None]
    assert len(ventilated) == 7
    assert sum(s.dni for s in mimic_tree.stays) == 1
