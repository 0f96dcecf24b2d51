"""Bulk NDJSON ($export output) -> cohort directory, read back with model.cohort."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.bulk import import_ndjson
from fhir_adapter.errors import MappingError
from model.cohort import read_cohort
from tests.fhir_adapter.conftest import MRN, component, observation, patient

T0 = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)


def _write(path: Path, resources: list[dict[str, Any]], extra_lines: tuple[str, ...] = ()) -> None:
    lines = [json.dumps(r) for r in resources] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")


def _export(root: Path) -> None:
    root.mkdir()
    p1, p2 = patient("MRN0001", "p1"), patient("MRN0002", "p2")
    p2["gender"] = "male"
    p2["birthDate"] = "1990-12-31"
    _write(root / "Patient.ndjson", [p1, {"resourceType": "Patient", "id": "p3"}])
    encounters = [
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "ACUTE",
            },
            "subject": {"reference": "Patient/p1"},
            "period": {"start": T0.isoformat(), "end": (T0 + timedelta(days=3)).isoformat()},
        },
    ]
    _write(root / "Encounter.ndjson", encounters)
    obs = []
    for h in range(6):
        o = observation(
            "8867-4", 80 + h, "/min", patient="Patient/p1", when=T0 + timedelta(hours=h)
        )
        obs.append({**o, "id": f"hr{h}", "meta": {"versionId": "1"}})
    bp = observation(
        "85354-9",
        None,
        "",
        patient="Patient/p2",
        when=T0 + timedelta(hours=1),
        components=[component("8480-6", 118, "mm[Hg]"), component("8462-4", 71, "mm[Hg]")],
    )
    temp = observation(
        "8310-5", 100.4, "[degF]", patient="Patient/p2", when=T0 + timedelta(hours=2)
    )
    height = observation("8302-2", 170, "cm", patient="Patient/p1", when=T0)
    _write(
        root / "Observation.000.ndjson",
        [*obs, {**bp, "id": "bp1"}, {**temp, "id": "t1"}, {**height, "id": "h1"}, obs[0]],
        extra_lines=('{"resourceType": "Observation", "id": "trunc', ""),
    )
    # Patient p2 appears only in a later file: its observations wait until the end
    _write(
        root / "Observation.001.ndjson",
        [
            {
                **observation(
                    "59408-5", 91, "%", patient="Patient/p2", when=T0 + timedelta(hours=3)
                ),
                "id": "s1",
            }
        ],
    )
    _write(root / "zz-late.ndjson", [p2])
    _write(
        root / "Procedure.ndjson",
        [
            {
                "resourceType": "Procedure",
                "id": "v1",
                "status": "completed",
                "subject": {"reference": "Patient/p1"},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "40617009"}]},
                "performedDateTime": (T0 + timedelta(hours=30)).isoformat(),
            }
        ],
    )


def test_bulk_import_writes_a_readable_cohort(tmp_path: Path) -> None:
    src, dest = tmp_path / "export", tmp_path / "cohort"
    _export(src)
    report = import_ndjson(src, dest, mrn_system=MRN)
    assert report.malformed_lines == 1
    assert report.measurements == 6 + 2 + 1 + 1
    assert report.rejected["no mapped code"] == 1
    assert report.rejected["patient without MRN"] == 1
    cohort = read_cohort(dest)
    assert not cohort.synthetic
    keys = {p.key: p for p in cohort.patients}
    k1, k2 = f"{MRN}|MRN0001", f"{MRN}|MRN0002"
    assert set(keys) == {k1, k2}
    assert keys[k1].stay_start == T0
    assert keys[k1].stay_end == T0 + timedelta(days=3)
    assert keys[k1].age == 69
    assert keys[k2].sex == "male"
    assert keys[k2].age == 35
    assert keys[k2].stay_start == T0 + timedelta(hours=1)  # no Encounter: first measurement
    rows = sorted(zip(cohort.m_key, cohort.m_variable, cohort.m_value, strict=True))
    p2 = [(v, round(x, 3)) for k, v, x in rows if k == k2]
    assert p2 == [("dbp", 71.0), ("sbp", 118.0), ("spo2", 91.0), ("temperature", 38.0)]
    assert cohort.ventilation_start == {k1: T0 + timedelta(hours=30)}


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"no \.ndjson"):
        import_ndjson(tmp_path, tmp_path / "out", mrn_system=MRN)


def test_simulator_export_round_trips(tmp_path: Path) -> None:
    """Synthetic cohort -> FHIR NDJSON (cohort_fhir_export) -> import -> the same cohort."""
    export = pytest.importorskip("fhir_adapter.cohort_fhir_export")
    synth = pytest.importorskip("model.synth")
    original_dir = tmp_path / "original"
    synth.simulate(synth.SynthConfig(patients=3, seed=7, render_films=False), original_dir)
    export.export_cohort_fhir(original_dir, tmp_path / "fhir")
    report = import_ndjson(tmp_path / "fhir", tmp_path / "imported", mrn_system=MRN)
    assert sum(report.rejected.values()) == 0
    before, after = read_cohort(original_dir), read_cohort(tmp_path / "imported")
    assert after.synthetic  # from the export's meta.tag
    assert [(p.key, p.sex, p.stay_start, p.stay_end) for p in after.patients] == [
        (p.key, p.sex, p.stay_start, p.stay_end) for p in before.patients
    ]
    for old, new in zip(before.patients, after.patients, strict=True):
        assert old.age is not None
        assert new.age is not None
        assert abs(old.age - new.age) <= 1  # the export keeps the birth year only
    assert after.ventilation_start == before.ventilation_start
    rows_before = sorted(
        zip(before.m_key, before.m_time, before.m_variable, before.m_value, strict=True)
    )
    rows_after = sorted(
        zip(after.m_key, after.m_time, after.m_variable, after.m_value, strict=True)
    )
    assert len(rows_after) == len(rows_before) > 100
    for old_row, new_row in zip(rows_before, rows_after, strict=True):
        assert new_row[:3] == old_row[:3]
        assert new_row[3] == pytest.approx(old_row[3], rel=1e-5)


def test_bulk_import_writes_no_age_for_an_implausible_birth_date(tmp_path: Path) -> None:
    src, dest = tmp_path / "export", tmp_path / "cohort"
    _export(src)
    future, ancient = patient("MRN0008", "p8"), patient("MRN0009", "p9")
    future["birthDate"], ancient["birthDate"] = "2090-01-01", "1800-01-01"
    _write(src / "Patient.ndjson", [future, ancient])
    when = T0 + timedelta(hours=1)
    _write(
        src / "Observation.ndjson",
        [
            {**observation("8867-4", 90, "/min", patient=f"Patient/{p}", when=when), "id": p}
            for p in ("p8", "p9")
        ],
    )
    import_ndjson(src, dest, mrn_system=MRN)
    ages = {p.key: p.age for p in read_cohort(dest).patients}
    assert f"{MRN}|MRN0008" in ages
    assert ages[f"{MRN}|MRN0008"] is None
    assert ages[f"{MRN}|MRN0009"] is None


def test_bad_lines_are_counted_and_the_import_goes_on(tmp_path: Path) -> None:
    src, dest = tmp_path / "export", tmp_path / "cohort"
    src.mkdir()
    p1 = patient("MRN0001", "p1")
    good = [
        {**observation("8867-4", 80 + h, "/min", patient="Patient/p1",
                       when=T0 + timedelta(hours=h)), "id": f"hr{h}"}
        for h in range(3)
    ]  # fmt: skip
    hostile = [
        {**good[0], "id": "a", "code": {"coding": [{"system": "http://loinc.org", "code": []}]}},
        {**good[0], "id": "b", "valueQuantity": [1, 2]},
        {**good[0], "id": 7},
        {"resourceType": "Patient", "id": "p9", "identifier": 5},
        {"resourceType": "Patient", "id": "p8", "meta": {"tag": "synthetic"}},
        {"resourceType": "Procedure", "id": "v9", "code": "40617009"},
        {**good[0], "id": "c", "effectiveDateTime": "0001-01-01T00:00:00+14:00"},
    ]
    lines = ["\xff\xfe not utf-8", "x" * 5000, "[1, 2]", "null"]
    _write(src / "Patient.ndjson", [p1])
    (src / "Observation.ndjson").write_bytes(
        "\n".join([*(json.dumps(r) for r in [*good, *hostile]), *lines]).encode("latin-1") + b"\n"
    )
    report = import_ndjson(src, dest, mrn_system=MRN, max_line_bytes=4096)
    assert report.measurements == 3
    assert report.malformed_lines == 4  # not UTF-8, over-long, not an object (x2)
    assert sum(report.rejected.values()) == 7, report.rejected
    assert report.rejected["no effective time with a zone"] == 1
    assert read_cohort(dest).patients[0].key == f"{MRN}|MRN0001"
