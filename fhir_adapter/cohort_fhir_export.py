"""A cohort directory -> FHIR R4 bulk NDJSON (the simulator's FHIR export; synthetic data).

Writes ``Patient``, ``Encounter``, ``Observation``, ``Procedure`` and ``ImagingStudy`` files in
the layout of a bulk ``$export`` (one resource per line), as plain JSON dicts: Patient with the MRN
identifier, one ICU Encounter per stay, Observations with LOINC codes and UCUM units (canonical
units of model.variables; systolic and diastolic pressure taken together as one US Core
blood-pressure panel, 85354-9 with two components), a Procedure (SNOMED 40617009) at the
ventilation start, and one ImagingStudy per film whose UIDs match the DICOM export.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

from fhir_adapter.codes import LOINC, SNOMED, UCUM
from model.cohort import Cohort, CohortFilm, CohortPatient, read_cohort
from model.schemas import PatientKey
from model.variables import (
    BP_PANEL_DISPLAY,
    BP_PANEL_LOINC,
    BY_NAME,
    VENTILATION_SNOMED,
    Category,
    Variable,
)

log = logging.getLogger(__name__)
JsonDict = dict[str, Any]

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
SOP_CLASS = {
    "CR": "urn:oid:1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
    "DX": "urn:oid:1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
}
RESOURCE_TYPES = ("Patient", "Encounter", "Observation", "Procedure", "ImagingStudy")


@dataclass(frozen=True, slots=True)
class FhirExportReport:
    """How many resources of each type were written."""

    counts: dict[str, int]
    files: tuple[Path, ...]


def resource_id(kind: str, *parts: str) -> str:
    """A deterministic FHIR id (never the MRN itself): ``<kind>-<hash>``."""
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]
    return f"{kind}-{digest}"


def _instant(value: datetime) -> str:
    return value.isoformat()


def build_patient(patient: CohortPatient) -> JsonDict:
    """Patient with the MRN identifier (system|value of the cohort key)."""
    key = PatientKey.parse(patient.key)
    resource: JsonDict = {
        "resourceType": "Patient",
        "id": resource_id("pat", patient.key),
        "meta": {"tag": [{"system": "urn:ventfusion:tag", "code": "synthetic"}]},
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
                "system": key.system,
                "value": key.value,
            }
        ],
        "active": True,
        "name": [{"use": "anonymous", "family": "Synthetic", "given": ["Patient"]}],
    }
    if patient.sex in ("male", "female", "other", "unknown"):
        resource["gender"] = patient.sex
    if patient.age is not None:
        born = patient.stay_start.date() - timedelta(days=round(patient.age * 365.25))
        resource["birthDate"] = date(born.year, 1, 1).isoformat()
    return resource


def build_encounter(patient: CohortPatient, died: bool = False) -> JsonDict:
    """The ICU stay as an inpatient Encounter with its period."""
    resource: JsonDict = {
        "resourceType": "Encounter",
        "id": resource_id("enc", patient.key),
        "status": "finished",
        "class": {"system": ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
        "type": [{"text": "Intensive care unit stay"}],
        "subject": {"reference": f"Patient/{resource_id('pat', patient.key)}"},
        "period": {"start": _instant(patient.stay_start), "end": _instant(patient.stay_end)},
    }
    if died:
        resource["hospitalization"] = {
            "dischargeDisposition": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/discharge-disposition",
                        "code": "exp",
                        "display": "Expired",
                    }
                ]
            }
        }
    return resource


def _code(code: str, display: str, label: str) -> JsonDict:
    return {"coding": [{"system": LOINC, "code": code, "display": display}], "text": label}


def _variable_code(spec: Variable) -> JsonDict:
    """The variable's first LOINC code with its display (``model.variables``)."""
    return _code(spec.loinc[0], spec.loinc_display, spec.label)


def _quantity(variable: str, value: float) -> JsonDict:
    spec = BY_NAME[variable]
    number: float | int = int(value) if float(value).is_integer() else float(value)
    return {
        "value": number,
        "unit": spec.display_unit or spec.unit,
        "system": UCUM,
        "code": spec.unit,
    }


def _observation(key: str, rid: str, category: str, code: JsonDict, time: datetime) -> JsonDict:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}],
        "code": code,
        "subject": {"reference": f"Patient/{resource_id('pat', key)}"},
        "encounter": {"reference": f"Encounter/{resource_id('enc', key)}"},
        "effectiveDateTime": _instant(time),
    }


def build_observation(
    key: str, index: int, variable: str, value: float, time: datetime
) -> JsonDict:
    """One measurement as a final Observation with its LOINC code and UCUM quantity."""
    spec = BY_NAME[variable]
    resource = _observation(
        key, resource_id("obs", key, str(index)), spec.category.value,
        _variable_code(spec), time,
    )  # fmt: skip
    resource["valueQuantity"] = _quantity(variable, value)
    return resource


def build_blood_pressure_panel(
    key: str, index: int, systolic: float, diastolic: float, time: datetime
) -> JsonDict:
    """A systolic/diastolic pair as one US Core blood-pressure panel (85354-9, two components)."""
    resource = _observation(
        key, resource_id("obs", key, str(index)), Category.VITAL_SIGNS.value,
        _code(BP_PANEL_LOINC, BP_PANEL_DISPLAY, "Blood pressure panel"), time,
    )  # fmt: skip
    resource["component"] = [
        {
            "code": _variable_code(BY_NAME[name]),
            "valueQuantity": _quantity(name, value),
        }
        for name, value in (("sbp", systolic), ("dbp", diastolic))
    ]
    return resource


def blood_pressure_partners(cohort: Cohort) -> dict[int, int]:
    """Row of each systolic reading -> row of the diastolic one of the same patient and time."""
    systolic: dict[tuple[str, datetime], int] = {}
    diastolic: dict[tuple[str, datetime], int] = {}
    rows = zip(cohort.m_key, cohort.m_time, cohort.m_variable, strict=True)
    for i, (key, time, variable) in enumerate(rows):
        if variable == "sbp":
            systolic.setdefault((key, time), i)
        elif variable == "dbp":
            diastolic.setdefault((key, time), i)
    return {row: diastolic[at] for at, row in systolic.items() if at in diastolic}


def build_ventilation_procedure(key: str, start: datetime, end: datetime) -> JsonDict:
    """Invasive ventilation (SNOMED 40617009) from ``start``."""
    return {
        "resourceType": "Procedure",
        "id": resource_id("proc", key, "ventilation"),
        "status": "completed",
        "code": {
            "coding": [
                {"system": SNOMED, "code": VENTILATION_SNOMED, "display": "Artificial respiration"}
            ],
            "text": "Invasive mechanical ventilation",
        },
        "subject": {"reference": f"Patient/{resource_id('pat', key)}"},
        "encounter": {"reference": f"Encounter/{resource_id('enc', key)}"},
        "performedPeriod": {"start": _instant(start), "end": _instant(max(end, start))},
    }


def build_imaging_study(film: CohortFilm, modality: str = "CR") -> JsonDict:
    """One single-image portable chest study; UIDs as in the DICOM export."""
    study_uid = film.study_instance_uid or film.sop_instance_uid
    series: JsonDict = {
        "uid": film.series_instance_uid or study_uid,
        "number": 1,
        "modality": {"system": DICOM_DCM, "code": modality},
        "description": "CHEST AP PORTABLE",
        "numberOfInstances": 1,
        "bodySite": {"system": SNOMED, "code": "51185008", "display": "Thoracic structure"},
        "instance": [
            {
                "uid": film.sop_instance_uid,
                "sopClass": {"system": "urn:ietf:rfc:3986", "code": SOP_CLASS[modality]},
                "number": 1,
            }
        ],
    }
    return {
        "resourceType": "ImagingStudy",
        "id": resource_id("img", film.sop_instance_uid),
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"}],
        "status": "available",
        "modality": [{"system": DICOM_DCM, "code": modality}],
        "subject": {"reference": f"Patient/{resource_id('pat', film.key)}"},
        "encounter": {"reference": f"Encounter/{resource_id('enc', film.key)}"},
        "started": _instant(film.time),
        "numberOfSeries": 1,
        "numberOfInstances": 1,
        "description": "XR CHEST PORTABLE AP",
        "series": [series],
    }


def _write(handle: IO[bytes], resource: JsonDict) -> None:
    handle.write(orjson.dumps(resource) + b"\n")


def export_cohort_fhir(
    cohort_dir: Path,
    out_dir: Path,
    *,
    modality_of: Callable[[str], str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> FhirExportReport:
    """Write ``out_dir/<Type>.ndjson`` for every resource type from a cohort directory."""
    cohort = read_cohort(cohort_dir)
    return export_fhir(cohort, out_dir, modality_of=modality_of, on_progress=on_progress)


def export_fhir(
    cohort: Cohort,
    out_dir: Path,
    *,
    modality_of: Callable[[str], str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> FhirExportReport:
    """Export a loaded cohort (see ``export_cohort_fhir``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: out_dir / f"{kind}.ndjson" for kind in RESOURCE_TYPES}
    counts = dict.fromkeys(RESOURCE_TYPES, 0)
    total = 2 * len(cohort.patients) + len(cohort.ventilation_start) + len(cohort.m_key)
    total += len(cohort.films)
    done = 0

    def advance(n: int = 1) -> None:
        nonlocal done
        done += n
        if on_progress is not None and (done % 5000 < n or done == total):
            on_progress(done, total)

    handles = {kind: path.open("wb") for kind, path in paths.items()}
    try:
        for patient in cohort.patients:
            died = cohort.extras.get(patient.key, {}).get("outcome") == "died"
            _write(handles["Patient"], build_patient(patient))
            _write(handles["Encounter"], build_encounter(patient, died))
            counts["Patient"] += 1
            counts["Encounter"] += 1
            advance(2)
            vent = cohort.ventilation_start.get(patient.key)
            if vent is not None:
                procedure = build_ventilation_procedure(patient.key, vent, patient.stay_end)
                _write(handles["Procedure"], procedure)
                counts["Procedure"] += 1
                advance()
        obs = handles["Observation"]
        partners = blood_pressure_partners(cohort)
        in_a_panel = set(partners.values())
        rows = zip(cohort.m_key, cohort.m_time, cohort.m_variable, cohort.m_value, strict=True)
        for i, (key, time, variable, value) in enumerate(rows):
            advance()
            if i in in_a_panel:
                continue  # written with its systolic partner
            partner = partners.get(i)
            if partner is None:
                resource = build_observation(key, i, variable, value, time)
            else:
                diastolic = cohort.m_value[partner]
                resource = build_blood_pressure_panel(key, i, value, diastolic, time)
            _write(obs, resource)
            counts["Observation"] += 1
        for film in cohort.films:
            modality = modality_of(film.sop_instance_uid) if modality_of else "CR"
            _write(handles["ImagingStudy"], build_imaging_study(film, modality))
            counts["ImagingStudy"] += 1
            advance()
    finally:
        for handle in handles.values():
            handle.close()
    log.info("exported synthetic cohort as FHIR NDJSON: %s", counts)
    return FhirExportReport(counts=counts, files=tuple(paths.values()))
