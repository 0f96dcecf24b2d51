"""RiskAssessment, Device (the model) and Provenance resources we write back (DESIGN §7)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from fhir.resources.R4B.device import Device
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.riskassessment import RiskAssessment
from pydantic import ValidationError

from fhir_adapter.codes import SNOMED
from fhir_adapter.errors import MappingError
from fhir_adapter.search import query_string, token
from model.applicability.wording import film_not_used_text
from model.schemas import PatientKey, RiskLevel, RiskPrediction
from model.variables import VENTILATION_SNOMED

#: RiskAssessment.status values we write: final, or preliminary in shadow (silent) mode.
RISK_STATUSES = ("final", "preliminary")

JsonDict = dict[str, Any]

URI_SYSTEM = "urn:ietf:rfc:3986"
MODEL_SYSTEM = "urn:ventfusion:model"
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
_NAMESPACE = uuid.UUID("5b1f1f3e-8a5c-4a53-9d0c-6f1c2f0f7a11")
_QUALITATIVE = {
    RiskLevel.LOW: ("low", "Low likelihood"),
    RiskLevel.INFO: ("moderate", "Moderate likelihood"),
    RiskLevel.WARNING: ("high", "High likelihood"),
    RiskLevel.CRITICAL: ("high", "High likelihood"),
}
_MAX_BASIS = 100


def _instant(value: datetime) -> str:
    return value.isoformat()


def risk_identifier(prediction: RiskPrediction) -> JsonDict:
    """A stable identifier for (patient, as_of, model, version): the conditional-create key."""
    name = "|".join(
        (
            str(prediction.patient_key),
            prediction.as_of.isoformat(),
            prediction.model_id,
            prediction.model_version,
        )
    )
    return {"system": URI_SYSTEM, "value": f"urn:uuid:{uuid.uuid5(_NAMESPACE, name)}"}


def device_identifier(model_id: str, version: str) -> JsonDict:
    """The identifier of the Device resource that stands for one model version.

    ``<model>@<version>``: no ``|`` in the value, which servers would read as a token separator.
    """
    return {"system": MODEL_SYSTEM, "value": f"{model_id}@{version}"}


def search_token(identifier: JsonDict) -> str:
    """``identifier=system|value`` for If-None-Exist (escaped and URL-encoded)."""
    value = token(str(identifier["system"]), str(identifier["value"]))
    return query_string({"identifier": value})


def patient_reference(key: PatientKey, patient_ref: str | None) -> JsonDict:
    """A literal reference when the Patient id is known, else a logical one by MRN."""
    if patient_ref:
        return {"reference": patient_ref}
    return {"identifier": {"system": key.system, "value": key.value}, "type": "Patient"}


def _basis(ids: tuple[str, ...]) -> list[JsonDict]:
    refs: list[str] = []
    for raw in ids:
        ref = raw.split("#")[0]
        parts = ref.split("/")
        if len(parts) in (2, 4) and parts[0][:1].isupper() and parts[1]:
            refs.append(ref)
    return [{"reference": ref} for ref in dict.fromkeys(refs)][:_MAX_BASIS]


def _rationale(prediction: RiskPrediction) -> str:
    parts = [f"{d.description} ({d.contribution:+.2f})" for d in prediction.drivers[:5]]
    if prediction.film_age_h is not None:
        parts.append(
            f"chest film {prediction.film_age_h:.0f} h old, image weight "
            f"{prediction.image_weight:.2f}"
        )
    elif prediction.film_not_used is not None:  # the applicability guard's words (EHR-only)
        parts.append(film_not_used_text(prediction.film_not_used, prediction.as_of))
    else:
        parts.append("no recent chest film (EHR-only)")
    return "; ".join(parts)


def validate(resource: JsonDict) -> JsonDict:
    """Validate a resource we build with ``fhir.resources.R4B``; MappingError if invalid."""
    models: dict[str, Any] = {
        "RiskAssessment": RiskAssessment,
        "Device": Device,
        "Provenance": Provenance,
    }
    model = models.get(str(resource.get("resourceType")))
    if model is None:
        raise MappingError(f"no validator for {resource.get('resourceType')!r}")
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        raise MappingError(f"invalid {resource['resourceType']}: {exc}") from exc
    return resource


def build_risk_assessment(
    prediction: RiskPrediction,
    *,
    device_ref: str,
    patient_ref: str | None = None,
    encounter_ref: str | None = None,
    status: str = RISK_STATUSES[0],
) -> JsonDict:
    """The RiskAssessment of one prediction (outcome SNOMED 40617009 within the horizon).

    ``status`` is ``final``, or ``preliminary`` for predictions made in shadow (silent) mode.
    """
    code, display = _QUALITATIVE[prediction.level]
    end = prediction.as_of + timedelta(hours=prediction.horizon_h)
    resource: JsonDict = {
        "resourceType": "RiskAssessment",
        "identifier": [risk_identifier(prediction)],
        "status": status,
        "method": {
            "coding": [
                {
                    "system": MODEL_SYSTEM,
                    "code": prediction.model_id,
                    "display": f"{prediction.model_id} {prediction.model_version}",
                }
            ],
            "text": f"VentFusion {prediction.model_id} version {prediction.model_version}",
        },
        "code": {"text": f"Invasive mechanical ventilation within {prediction.horizon_h} h"},
        "subject": patient_reference(prediction.patient_key, patient_ref),
        "occurrenceDateTime": _instant(prediction.as_of),
        "performer": {"reference": device_ref},
        "prediction": [
            {
                "outcome": {
                    "coding": [
                        {
                            "system": SNOMED,
                            "code": VENTILATION_SNOMED,
                            "display": "Artificial respiration (procedure)",
                        }
                    ],
                    "text": "Invasive mechanical ventilation",
                },
                "probabilityDecimal": round(prediction.probability, 4),
                "qualitativeRisk": {
                    "coding": [{"system": RISK_PROBABILITY, "code": code, "display": display}],
                    "text": prediction.level.value,
                },
                "whenPeriod": {"start": _instant(prediction.as_of), "end": _instant(end)},
                "rationale": _rationale(prediction),
            }
        ],
    }
    if encounter_ref:
        resource["encounter"] = {"reference": encounter_ref}
    basis = _basis(prediction.basis_ids)
    if basis:
        resource["basis"] = basis
    return resource


def build_device(model_id: str, version: str) -> JsonDict:
    """The Device (software) that stands for one model version: the RiskAssessment performer."""
    return {
        "resourceType": "Device",
        "identifier": [device_identifier(model_id, version)],
        "status": "active",
        "manufacturer": "VentFusion",
        "deviceName": [{"name": f"VentFusion {model_id}", "type": "model-name"}],
        "type": {"text": "Clinical decision support software (risk model)"},
        "version": [{"value": version}],
    }


def build_provenance(target_ref: str, device_ref: str, recorded: datetime) -> JsonDict:
    """Provenance: the RiskAssessment was assembled by the model Device."""
    return {
        "resourceType": "Provenance",
        "target": [{"reference": target_ref}],
        "recorded": _instant(recorded),
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "assembler",
                            "display": "Assembler",
                        }
                    ]
                },
                "who": {"reference": device_ref},
            }
        ],
    }
