"""MIMIC-IV + MIMIC-CXR-JPG -> cohort: stays, units, GCS, blood gases, ventilation, code status,
films (on the made-up fixture tree in the official layouts)."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from model.cohort import read_cohort
from model.cohorts.mimic import MimicImportOptions, MimicImportReport, import_mimic
from model.cohorts.mimic.stays import NOT_FIRST_STAY, STAY_SYSTEM
from tests.model.cohorts.mimic_fixture import Fixture, Stay

Imported = tuple[Path, MimicImportReport]


def _key(stay: Stay) -> str:
    return f"{STAY_SYSTEM}|{stay.stay}"


def _iso(text: str) -> str:
    return datetime.fromisoformat(text).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _measurements(out: Path) -> dict[tuple[str, str], dict[str, float]]:
    """(key, variable) -> {time: value}."""
    found: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    with (out / "measurements.csv").open() as handle:
        for r in csv.DictReader(handle):
            found[r["patient_key"], r["variable"]][r["time"]] = float(r["value"])
    return found


def _chart_rows(fx: Fixture, stay: Stay, itemid: int) -> list[list[object]]:
    return [r for r in fx.chart if r[2] == stay.stay and r[6] == itemid]


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as handle:
        return {r["patient_key"]: r for r in csv.DictReader(handle)}


def test_each_patients_first_stay_with_age_sex_and_end_at_death(
    mimic_tree: Fixture, mimic_import: Imported
) -> None:
    out, report = mimic_import
    patients = _rows(out / "patients.csv")
    firsts = mimic_tree.first_stays()
    assert set(patients) == {_key(s) for s in firsts}
    assert report.stays_excluded == {NOT_FIRST_STAY: 1}
    for s in firsts:
        row = patients[_key(s)]
        assert float(row["age"]) == 45 + s.subject % 40 + (s.intime.year - 2148)
        assert row["sex"] == ("female" if s.subject % 2 else "male")
        assert row["stay_start"] == f"{s.intime:%Y-%m-%dT%H:%M:%S}+00:00"
        end = s.at(s.hours - 4) if s.dies else s.outtime
        assert row["stay_end"] == f"{end:%Y-%m-%dT%H:%M:%S}+00:00"
        assert (row["subject_id"], row["stay_id"]) == (str(s.subject), str(s.stay))


def test_all_stays_keeps_the_second_stay(mimic_tree: Fixture, tmp_path: Path) -> None:
    report = import_mimic(
        mimic_tree.mimic, tmp_path / "c", options=MimicImportOptions(all_stays=True, threads=1)
    )
    assert report.stays == len(mimic_tree.stays)
    assert not report.stays_excluded


def test_temperature_in_fahrenheit_becomes_celsius(
    mimic_tree: Fixture, mimic_import: Imported
) -> None:
    out, _ = mimic_import
    found = _measurements(out)
    stay = mimic_tree.stays[0]
    fahrenheit = _chart_rows(mimic_tree, stay, 223761)
    celsius = _chart_rows(mimic_tree, stay, 223762)
    assert fahrenheit
    assert celsius
    temps = found[_key(stay), "temperature"]
    for row in fahrenheit:
        assert temps[_iso(str(row[4]))] == pytest.approx((float(str(row[8])) - 32) / 1.8, abs=1e-3)
    for row in celsius:
        assert temps[_iso(str(row[4]))] == pytest.approx(float(str(row[8])))


def test_fio2_as_fraction_or_percent_and_o2_flow_typos(
    mimic_tree: Fixture, mimic_import: Imported
) -> None:
    out, report = mimic_import
    found = _measurements(out)
    clean = [s for s in mimic_tree.first_stays() if s.stay % 5 != 1]  # no O2-flow typo
    fraction = next(s for s in clean if s.stay % 3 == 0)
    percent = next(s for s in clean if s.stay % 3)
    for stay, scale in ((fraction, 100), (percent, 1)):
        charted = {
            _iso(str(r[4])): float(str(r[8])) * scale for r in _chart_rows(mimic_tree, stay, 223835)
        }
        assert charted == pytest.approx(found[_key(stay), "fio2"])
    typos = [s for s in mimic_tree.first_stays() if s.stay % 5 == 1]
    assert report.rejected["fio2: FiO2 between 1 and 20 (an O2 flow in L/min charted as FiO2?)"]
    assert sum(v for k, v in report.rejected.items() if k.startswith("fio2: FiO2 between")) == len(
        typos
    )
    assert all(v >= 21 for s in typos for v in found[_key(s), "fio2"].values())


def test_gcs_total_only_from_three_components_and_never_when_intubated(
    mimic_tree: Fixture, mimic_import: Imported
) -> None:
    out, report = mimic_import
    stay = mimic_tree.stays[0]
    totals = _measurements(out)[_key(stay), "gcs_total"]
    by_time: dict[str, dict[int, tuple[str, float]]] = defaultdict(dict)
    for itemid in (220739, 223900, 223901):
        for r in _chart_rows(mimic_tree, stay, itemid):
            by_time[_iso(str(r[4]))][itemid] = (str(r[7]), float(str(r[8])))
    expected = {
        t: sum(score for _, score in c.values())
        for t, c in by_time.items()
        if len(c) == 3 and c[223900][0] != "No Response-ETT"
    }
    assert totals == expected
    assert any(c.get(223900, ("",))[0] == "No Response-ETT" for c in by_time.values())
    assert any(len(c) == 2 for c in by_time.values())
    assert report.rejected["gcs_total: verbal response not testable (intubated)"] > 0
    assert report.rejected["gcs_total: eye, verbal and motor not charted together"] > 0


def test_blood_gas_tensions_only_from_arterial_specimens(
    mimic_tree: Fixture, mimic_import: Imported
) -> None:
    out, report = mimic_import
    found = _measurements(out)
    arterial, venous = mimic_tree.stays[0], mimic_tree.stays[9]
    art_po2 = {
        _iso(str(r[6])): float(str(r[9]))
        for r in mimic_tree.labs
        if r[1] == arterial.subject and r[4] == 50821 and r[6] >= f"{arterial.at(-72):%Y-%m-%d}"
    }
    assert found[_key(arterial), "pao2"] == art_po2  # labevents only, not the chart copies
    assert (_key(venous), "pao2") not in found
    assert found[_key(venous), "lactate"]  # a venous lactate is still a lactate
    assert report.rejected["pao2: not an arterial specimen (VEN.)"] > 0


def test_ventilation_start_from_procedures_and_charting(
    mimic_tree: Fixture, mimic_import: Imported
) -> None:
    out, report = mimic_import
    with (out / "events.csv").open() as handle:
        starts = {r["patient_key"]: r["ventilation_start"] for r in csv.DictReader(handle)}
    s = mimic_tree.stays
    first_mode = min(str(r[4]) for r in _chart_rows(mimic_tree, s[4], 223849))
    expected = {_key(x): f"{x.at(x.intubate_h or 0):%Y-%m-%dT%H:%M:%S}+00:00" for x in s[:7]}
    expected[_key(s[4])] = _iso(first_mode)  # no procedureevents row: the charting tells
    assert starts == expected
    assert report.ventilation_sources == {"both": 5, "procedureevents": 1, "charting": 1}
    assert report.ventilated_on_arrival == 1  # s[6] came from the OR intubated


def test_do_not_intubate_marked_before_ventilation_only(
    mimic_tree: Fixture, mimic_import: Imported
) -> None:
    out, report = mimic_import
    patients = _rows(out / "patients.csv")
    dni = mimic_tree.stays[7]
    assert patients[_key(dni)]["do_not_intubate"] == "1"
    assert patients[_key(dni)]["do_not_intubate_since"] == f"{dni.at(1.2):%Y-%m-%dT%H:%M:%S}+00:00"
    # DNR alone, and comfort care decided after intubation, leave a stay in the label population
    assert {k for k, r in patients.items() if r["do_not_intubate"] == "1"} == {_key(dni)}
    assert report.dni == 1
    assert report.code_status_values["Comfort measures only"] > 0


def test_frontal_films_linked_to_stays_with_their_jpgs(
    mimic_tree: Fixture, mimic_import: Imported
) -> None:
    out, report = mimic_import
    with (out / "films.csv").open() as handle:
        films = list(csv.DictReader(handle))
    meta = {str(r[0]): r for r in mimic_tree.films}
    assert films
    assert {f["view"] for f in films} == {"AP", "PA"}
    firsts = {_key(s): s for s in mimic_tree.first_stays()}
    for film in films:
        row = meta[film["sop_instance_uid"]]
        assert Path(film["path"]).is_file()
        assert Path(film["path"]).name == f"{row[0]}.jpg"
        stamp = datetime.strptime(f"{row[7]}{str(row[8]).split('.')[0]:0>6}", "%Y%m%d%H%M%S")
        assert film["time"] == f"{stamp:%Y-%m-%dT%H:%M:%S}+00:00"
        stay = firsts[film["patient_key"]]
        assert stay.at(-72) <= stamp <= stay.outtime
        assert (film["photometric"], film["bits_stored"]) == ("MONOCHROME2", "8")
    laterals = sum(1 for r in mimic_tree.films if r[4] == "LATERAL")
    assert report.films_rejected["view LATERAL (only AP/PA films are used)"] == laterals
    assert report.films_rejected["JPG not in the files/ tree (not downloaded?)"] == 1
    assert any(
        datetime.fromisoformat(f["time"]).replace(tzinfo=None) < firsts[f["patient_key"]].intime
        for f in films
    )


def test_the_cohort_reads_back(mimic_tree: Fixture, mimic_import: Imported) -> None:
    out, report = mimic_import
    cohort = read_cohort(out)
    assert not cohort.synthetic
    assert len(cohort.patients) == report.stays == 16
    assert len(cohort.m_key) == report.measurement_rows
    assert len(cohort.ventilation_start) == report.ventilated == 7
    assert len(cohort.films) == report.films
    assert cohort.meta["source"] == "mimic-iv"
    assert (out / "import-summary.json").is_file()
    assert not (out / ".mimic-import-tmp").exists()
