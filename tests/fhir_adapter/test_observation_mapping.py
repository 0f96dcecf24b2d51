"""Observation JSON -> Measurement: LOINC/local codes, UCUM conversion, status, plausibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_adapter import observation_mapping
from fhir_adapter.codes import CodeTable, load_code_table
from fhir_adapter.codes import CodeTable as _Codes
from fhir_adapter.errors import MappingError
from fhir_adapter.observation_mapping import ObservationMapping
from fhir_adapter.resources import Rejected
from model.schemas import Measurement, PatientKey
from tests.fhir_adapter.conftest import MRN, component, observation
from tests.support.typed import decoded, typed


def map_observation(obs: dict[str, object], key: PatientKey, codes: _Codes) -> ObservationMapping:
    return observation_mapping.map_observation(typed(obs), key, codes)


def observation_to_measurements(
    obs: dict[str, object], key: PatientKey, codes: _Codes | None = None
) -> list[Measurement]:
    return list(observation_mapping.map_observation(typed(obs), key, codes or CODES).measurements)


KEY = PatientKey(system=MRN, value="MRN0001")
CODES = CodeTable()


def _one(obs: dict[str, object]) -> tuple[str, float]:
    obs.setdefault("id", "o1")
    mapping = map_observation(obs, KEY, CODES)
    assert not mapping.rejected, mapping.rejected
    (m,) = mapping.measurements
    return m.variable, m.value


@pytest.mark.parametrize(
    ("name", "variable", "value"),
    [
        ("Observation-heart-rate.json", "heart_rate", 44.0),
        ("Observation-respiratory-rate.json", "resp_rate", 26.0),
        ("Observation-body-temperature.json", "temperature", 36.5),
        ("Observation-satO2.json", "spo2", 95.0),
        ("us-core-temperature.json", "temperature", 36.55556),
        ("us-core-oxygen-saturation.json", "spo2", 99.0),
    ],
)
def test_spec_examples_map(reference_dir: Path, name: str, variable: str, value: float) -> None:
    obs = json.loads((reference_dir / "fhir-r4-examples" / name).read_text())
    obs["effectiveDateTime"] = "2026-03-01T10:00:00+01:00"
    assert _one(obs) == (variable, pytest.approx(value))


def test_blood_pressure_panel_components(reference_dir: Path) -> None:
    obs = json.loads(
        (reference_dir / "fhir-r4-examples/Observation-blood-pressure.json").read_text()
    )
    obs["effectiveDateTime"] = "2026-03-01T10:00:00Z"
    mapping = map_observation(obs, KEY, CODES)
    got = {m.variable: (m.value, m.source_id) for m in mapping.measurements}
    assert got == {
        "sbp": (107.0, "Observation/blood-pressure/_history/1#sbp"),
        "dbp": (60.0, "Observation/blood-pressure/_history/1#dbp"),
    }


def test_us_core_pulse_oximetry_flow_component(reference_dir: Path) -> None:
    path = reference_dir / "fhir-r4-examples/us-core-observation-satO2-fiO2.json"
    obs = json.loads(path.read_text())
    values = {m.variable: m.value for m in observation_to_measurements(obs, KEY)}
    assert values == {"spo2": 95.0, "o2_flow": 6.0}


def test_date_only_example_is_rejected_with_reason(reference_dir: Path) -> None:
    obs = json.loads((reference_dir / "fhir-r4-examples/Observation-heart-rate.json").read_text())
    mapping = map_observation(obs, KEY, CODES)
    assert mapping.measurements == ()
    assert mapping.rejected == ("no effective time with a zone",)


@pytest.mark.parametrize(
    ("code", "value", "unit", "variable", "expected"),
    [
        ("8310-5", 101.3, "[degF]", "temperature", 38.5),
        ("2703-7", 8.0, "kPa", "pao2", 60.00494),
        ("2019-8", 5.3, "kPa", "paco2", 39.75327),
        ("3150-0", 0.4, "1", "fio2", 40.0),
        ("3150-0", 0.6, "%", "fio2", 60.0),  # a fraction charted under "%"
        ("3150-0", 35.0, "%", "fio2", 35.0),
        ("2524-7", 18.0, "mg/dL", "lactate", 1.99822),
        ("2160-0", 88.42, "umol/L", "creatinine", 1.0),
        ("6690-2", 12.5, "10*9/L", "wbc", 12.5),
        ("8478-0", 72.0, "mmHg", "map", 72.0),
    ],
)
def test_ucum_conversions(
    code: str, value: float, unit: str, variable: str, expected: float
) -> None:
    assert _one(observation(code, value, unit)) == (variable, pytest.approx(expected, rel=1e-4))


def test_gcs_and_ph_without_unit_are_accepted() -> None:
    obs = observation("9269-2", None, "")
    obs["valueInteger"] = 9
    assert _one(obs) == ("gcs_total", 9.0)
    assert _one(observation("2744-1", 7.31, "[pH]", category="laboratory")) == ("ph", 7.31)


@pytest.mark.parametrize(
    ("code", "value", "unit", "reason"),
    [
        ("8867-4", 900.0, "/min", "outside the physiological range"),
        ("59408-5", 140.0, "%", "outside the physiological range"),
        ("8310-5", 12.0, "Cel", "outside the physiological range"),
        ("8867-4", 80.0, "mm[Hg]", "cannot convert"),
        ("8867-4", 80.0, "furlongs/fortnight", "unknown unit"),
        ("8302-2", 170.0, "cm", "no mapped code"),  # body height: not a VentFusion variable
    ],
)
def test_rejections_carry_a_reason(code: str, value: float, unit: str, reason: str) -> None:
    obs = observation(code, value, unit)
    obs["id"] = "bad"
    mapping = map_observation(obs, KEY, CODES)
    assert mapping.measurements == ()
    assert any(reason in r for r in mapping.rejected), mapping.rejected


def test_status_handling() -> None:
    for status in ("final", "amended", "corrected"):
        assert _one(observation("8867-4", 88, "/min", status=status)) == ("heart_rate", 88.0)
    prelim = map_observation(
        {**observation("8867-4", 88, "/min", status="preliminary"), "id": "x"}, KEY, CODES
    )
    assert prelim.measurements == ()
    assert "status 'preliminary' not used" in prelim.rejected
    eie = map_observation(
        {**observation("8867-4", 88, "/min", status="entered-in-error"), "id": "x"}, KEY, CODES
    )
    assert eie.retract
    assert eie.measurements == ()


def test_panel_with_one_bad_component_keeps_the_good_one() -> None:
    obs = observation(
        "85354-9",
        None,
        "",
        components=[component("8480-6", 400, "mm[Hg]"), component("8462-4", 70, "mm[Hg]")],
    )
    obs["id"] = "bp1"
    obs["meta"] = {"versionId": "3"}
    mapping = map_observation(obs, KEY, CODES)
    assert [(m.variable, m.source_id) for m in mapping.measurements] == [
        ("dbp", "Observation/bp1/_history/3#dbp")
    ]
    assert len(mapping.rejected) == 1
    assert "sbp" in mapping.rejected[0]


def test_local_code_table(tmp_path: Path) -> None:
    table_path = tmp_path / "codes.json"
    table_path.write_text(
        json.dumps(
            [
                {
                    "system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679",
                    "code": "R-SPO2",
                    "variable": "spo2",
                }
            ]
        )
    )
    codes = load_code_table(table_path)
    obs = observation("x", 91, "%")
    obs["code"] = {
        "coding": [{"system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679", "code": "R-SPO2"}]
    }
    assert [m.value for m in observation_to_measurements({**obs, "id": "l1"}, KEY, codes)] == [91]
    assert observation_to_measurements({**obs, "id": "l1"}, KEY, CODES) == []
    table_path.write_text(json.dumps([{"system": "s", "code": "c", "variable": "vibes"}]))
    with pytest.raises(MappingError, match="unknown variable"):
        load_code_table(table_path)


def test_not_an_observation_is_a_rejection_with_its_reason() -> None:
    patient = decoded({"resourceType": "Patient", "id": "p"})
    assert isinstance(patient, Rejected)
    assert patient.reason == "expected a Observation, got 'Patient'"
    no_id = decoded({"resourceType": "Observation"})
    assert isinstance(no_id, Rejected)
    assert "missing required field `id`" in no_id.reason
