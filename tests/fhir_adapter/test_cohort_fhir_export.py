"""FHIR NDJSON export of a synthetic cohort: every line validates as R4 (fhir.resources.R4B)."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhir_adapter.bulk import import_ndjson
from fhir_adapter.cohort_fhir_export import (
    RESOURCE_TYPES,
    FhirExportReport,
    blood_pressure_partners,
    build_observation,
    export_cohort_fhir,
)
from model.cohort import Cohort, read_cohort
from model.synth import DEFAULT_MRN_SYSTEM, SynthConfig, simulate
from model.variables import BP_PANEL_LOINC, BY_LOINC, VENTILATION_SNOMED


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cohort, FhirExportReport]:
    root = tmp_path_factory.mktemp("fhir-export")
    # seed 4: 8 stays including ventilated ones
    simulate(SynthConfig(patients=8, seed=4, film_size=48), root / "cohort")
    cohort = read_cohort(root / "cohort")
    report = export_cohort_fhir(root / "cohort", root / "ndjson", modality_of=lambda uid: "DX")
    return cohort, report


def _lines(report: FhirExportReport, kind: str) -> list[dict[str, Any]]:
    path = next(p for p in report.files if p.name == f"{kind}.ndjson")
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_every_line_validates_with_fhir_resources_r4b(
    exported: tuple[Cohort, FhirExportReport],
) -> None:
    _, report = exported
    total = 0
    for kind in RESOURCE_TYPES:
        for resource in _lines(report, kind):
            assert resource["resourceType"] == kind
            get_fhir_model_class(kind).model_validate(resource)
            total += 1
    assert total == sum(report.counts.values())


def test_resources_match_the_cohort(exported: tuple[Cohort, FhirExportReport]) -> None:
    cohort, report = exported
    assert report.counts["Patient"] == len(cohort.patients)
    assert report.counts["Encounter"] == len(cohort.patients)
    panels = len(blood_pressure_partners(cohort))
    assert panels > 0
    assert report.counts["Observation"] == len(cohort.m_key) - panels  # a panel holds two rows
    assert report.counts["Procedure"] == len(cohort.ventilation_start) > 0
    assert report.counts["ImagingStudy"] == len(cohort.films) > 0
    identifiers = {
        (ident["system"], ident["value"])
        for patient in _lines(report, "Patient")
        for ident in patient["identifier"]
    }
    assert identifiers == {tuple(p.key.split("|", 1)) for p in cohort.patients}
    assert {s for s, _ in identifiers} == {DEFAULT_MRN_SYSTEM}


def _coded_quantities(obs: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(LOINC, valueQuantity) of an Observation: its value, or each component of a panel."""
    if obs["code"]["coding"][0]["code"] == BP_PANEL_LOINC:
        assert "valueQuantity" not in obs
        return [(c["code"]["coding"][0]["code"], c["valueQuantity"]) for c in obs["component"]]
    return [(obs["code"]["coding"][0]["code"], obs["valueQuantity"])]


def test_observations_carry_loinc_codes_and_canonical_ucum_units(
    exported: tuple[Cohort, FhirExportReport],
) -> None:
    _, report = exported
    seen: Counter[str] = Counter()
    for obs in _lines(report, "Observation"):
        assert obs["code"]["coding"][0]["system"] == "http://loinc.org"
        category = obs["category"][0]["coding"][0]["code"]
        for code, quantity in _coded_quantities(obs):
            variable = BY_LOINC[code]
            assert quantity["system"] == "http://unitsofmeasure.org"
            assert quantity["code"] == variable.unit
            assert category == variable.category.value
            seen[variable.name] += 1
    assert len(seen) == 17


def test_blood_pressure_is_a_us_core_panel(exported: tuple[Cohort, FhirExportReport]) -> None:
    cohort, report = exported
    panels = [
        o for o in _lines(report, "Observation") if o["code"]["coding"][0]["code"] == BP_PANEL_LOINC
    ]
    assert len(panels) == len(blood_pressure_partners(cohort)) > 0
    for panel in panels:
        assert [code for code, _ in _coded_quantities(panel)] == ["8480-6", "8462-4"]
        assert panel["category"][0]["coding"][0]["code"] == "vital-signs"
    alone = [
        o
        for o in _lines(report, "Observation")
        if o["code"]["coding"][0]["code"] in ("8480-6", "8462-4")
    ]
    pressures = cohort.m_variable.count("sbp") + cohort.m_variable.count("dbp")
    assert len(alone) == pressures - 2 * len(panels)  # readings without a partner stand alone


def test_ventilation_procedure_and_imaging_studies(
    exported: tuple[Cohort, FhirExportReport],
) -> None:
    cohort, report = exported
    for proc in _lines(report, "Procedure"):
        assert proc["code"]["coding"][0]["code"] == VENTILATION_SNOMED
    uids = {f.sop_instance_uid: f for f in cohort.films}
    for study in _lines(report, "ImagingStudy"):
        instance = study["series"][0]["instance"][0]
        film = uids[instance["uid"]]
        assert study["identifier"][0]["value"] == f"urn:oid:{film.study_instance_uid}"
        assert study["series"][0]["uid"] == film.series_instance_uid
        assert study["modality"][0]["code"] == "DX"


def test_no_mrn_in_resource_ids(exported: tuple[Cohort, FhirExportReport]) -> None:
    cohort, report = exported
    mrns = {p.key.split("|", 1)[1] for p in cohort.patients}
    for kind in RESOURCE_TYPES:
        for resource in _lines(report, kind):
            assert not any(m in str(resource["id"]) for m in mrns)


def test_export_is_deterministic(exported: tuple[Cohort, FhirExportReport], tmp_path: Path) -> None:
    cohort, report = exported
    again = export_cohort_fhir(cohort.root, tmp_path, modality_of=lambda uid: "DX")
    for first, second in zip(report.files, again.files, strict=True):
        assert (
            hashlib.sha256(first.read_bytes()).digest()
            == hashlib.sha256(second.read_bytes()).digest()
        )


def test_round_trip_through_the_bulk_importer(
    exported: tuple[Cohort, FhirExportReport], tmp_path: Path
) -> None:
    cohort, report = exported
    import_ndjson(
        report.files[0].parent, tmp_path / "back", mrn_system=DEFAULT_MRN_SYSTEM, synthetic=True
    )
    back = read_cohort(tmp_path / "back")
    assert sorted(p.key for p in back.patients) == sorted(p.key for p in cohort.patients)
    assert len(back.m_key) == len(cohort.m_key)
    for name in ("sbp", "dbp"):  # the panels' components come back as the readings they were
        values = [v for v, n in zip(back.m_value, back.m_variable, strict=True) if n == name]
        before = [v for v, n in zip(cohort.m_value, cohort.m_variable, strict=True) if n == name]
        assert sorted(values) == sorted(before)
    assert back.ventilation_start == cohort.ventilation_start


def test_integer_and_decimal_values_keep_their_number() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    obs = build_observation(f"{DEFAULT_MRN_SYSTEM}|X1", 0, "ph", 7.31, when)
    assert obs["valueQuantity"]["value"] == 7.31
    assert (
        build_observation(f"{DEFAULT_MRN_SYSTEM}|X1", 1, "heart_rate", 88.0, when)["valueQuantity"][
            "value"
        ]
        == 88
    )


def test_progress_reaches_the_total(
    exported: tuple[Cohort, FhirExportReport], tmp_path: Path
) -> None:
    cohort, _ = exported
    calls: list[tuple[int, int]] = []
    export_cohort_fhir(
        cohort.root, tmp_path, on_progress=lambda done, total: calls.append((done, total))
    )
    rows = 2 * len(cohort.patients) + len(cohort.ventilation_start) + len(cohort.m_key)
    rows += len(cohort.films)  # every cohort row, also those two of which make one panel
    assert calls[-1] == (rows, rows)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
