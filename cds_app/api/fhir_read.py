"""Read-only FHIR R4 endpoint for our own RiskAssessments and the model Device.

Who may call: holders of an access token of the configured authorization server with a SMART
scope for the resource (``fhir_read_auth.ReadGrant``); ``patient/`` scopes reach only the
token's patient. Mounted only when ``VENTFUSION_READ_API__ISSUER`` and ``__JWKS`` are set;
``/fhir/metadata`` stays public, as FHIR and SMART require.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict

from cds_app.api.errors import fhir_error
from cds_app.api.fhir_read_auth import ReadGrant, forbidden
from cds_app.context import AppContext, ContextDep
from cds_app.security.access_tokens import AccessGrant, ForbiddenError, Interaction
from fhir_adapter.risk_assessment_building import build_device, build_risk_assessment
from fhir_adapter.values import is_fhir_id
from model.schemas import PatientKey, RiskPrediction

router = APIRouter(prefix="/fhir", tags=["fhir-read"])
FHIR_JSON = "application/fhir+json"
ROW_ID = re.compile(r"[1-9][0-9]{0,17}")  # our ids are database row ids (64-bit integers)


class FhirResource(BaseModel):
    """Any FHIR resource (documented shape only; served as built)."""

    model_config = ConfigDict(extra="allow")
    resourceType: str  # noqa: N815


def _send(resource: dict[str, Any], status: int = 200) -> Response:
    headers = {"Cache-Control": "no-store"}
    return Response(orjson.dumps(resource), status, headers=headers, media_type=FHIR_JSON)


def _patient_only(ctx: AppContext, grant: AccessGrant, interaction: Interaction) -> str | None:
    """The one FHIR patient id a token may reach (None: every patient); raise 403."""
    try:
        reach = grant.reach("RiskAssessment", interaction)
    except ForbiddenError as exc:
        raise forbidden(ctx, exc, "system/RiskAssessment.rs") from exc
    return grant.patient if reach == "patient" else None


def _not_found(text: str) -> Response:
    return _send(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "not-found", "diagnostics": text}],
        },
        404,
    )


def device_id(model_id: str, version: str) -> str:
    """The logical id of a model version's Device."""
    return re.sub(r"[^A-Za-z0-9\-.]", "-", f"{model_id}-{version}")[:64]


def _risk_assessment(ctx: AppContext, row_id: int, prediction: RiskPrediction) -> dict[str, Any]:
    patient = ctx.store.patient(prediction.patient_key)
    resource = build_risk_assessment(
        prediction,
        device_ref=f"Device/{device_id(prediction.model_id, prediction.model_version)}",
        patient_ref=f"Patient/{patient.fhir_id}" if patient and patient.fhir_id else None,
    )
    return {"id": str(row_id), **resource}


@router.get("/RiskAssessment/{resource_id}", response_model=FhirResource)
async def read_risk_assessment(
    request: Request, resource_id: str, grant: ReadGrant, ctx: ContextDep
) -> Response:
    """``GET [base]/RiskAssessment/<id>``."""
    only = _patient_only(ctx, grant, "read")
    if not ROW_ID.fullmatch(resource_id):
        return _not_found("RiskAssessment/" + resource_id[:64])
    prediction = await run_in_threadpool(ctx.predictions.get, int(resource_id))
    if prediction is None:
        return _not_found("RiskAssessment/" + resource_id)
    resource = await run_in_threadpool(_risk_assessment, ctx, int(resource_id), prediction)
    if only is not None and resource["subject"].get("reference") != f"Patient/{only}":
        denied = ForbiddenError("this RiskAssessment is outside the token's patient")
        raise forbidden(ctx, denied, f"patient/RiskAssessment.r?patient={only}")
    return _send(resource)


@router.get("/RiskAssessment", response_model=FhirResource)
async def search_risk_assessments(
    request: Request,
    grant: ReadGrant,
    ctx: ContextDep,
    patient: str = Query(min_length=1, max_length=128, description="Patient/<id> or <id>"),
    count: int = Query(default=20, ge=1, le=100, alias="_count"),
) -> Response:
    """``GET [base]/RiskAssessment?patient=<id>``: newest first, one searchset page."""
    only = _patient_only(ctx, grant, "search")
    fhir_id = patient.removeprefix("Patient/")
    if not is_fhir_id(fhir_id):
        return fhir_error(400, "invalid", "patient must be Patient/<id> or <id> (a FHIR id)")
    if only is not None and fhir_id != only:
        denied = ForbiddenError("the token's patient/ scope covers another patient")
        raise forbidden(ctx, denied, f"patient/RiskAssessment.s?patient={only}")

    def search() -> dict[str, Any]:
        row = ctx.store.patient_by_fhir_id(fhir_id)
        entries: list[dict[str, Any]] = []
        if row is not None:
            for row_id in ctx.predictions.ids_for(PatientKey.parse(row.patient_key), count):
                prediction = ctx.predictions.get(row_id)
                if prediction is not None:
                    resource = _risk_assessment(ctx, row_id, prediction)
                    entries.append(
                        {
                            "fullUrl": f"{ctx.settings.base_url}/fhir/RiskAssessment/{row_id}",
                            "resource": resource,
                            "search": {"mode": "match"},
                        }
                    )
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(entries),
        }
        if entries:
            bundle["entry"] = entries
        return bundle

    return _send(await run_in_threadpool(search))


@router.get("/Device/{resource_id}", response_model=FhirResource)
async def read_device(
    request: Request, resource_id: str, grant: ReadGrant, ctx: ContextDep
) -> Response:
    """``GET [base]/Device/<id>``: the loaded model version."""
    try:
        grant.reach("Device", "read")
    except ForbiddenError as exc:
        raise forbidden(ctx, exc, "system/Device.r") from exc
    model = ctx.model
    if resource_id != device_id(model.model_id, model.model_version):
        return _not_found("Device/" + resource_id[:64])
    return _send({"id": resource_id, **build_device(model.model_id, model.model_version)})


@router.get("/metadata", response_model=FhirResource)
async def capability_statement(request: Request) -> Response:
    """A minimal CapabilityStatement: read/search of RiskAssessment, read of Device."""
    return _send(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-01-01",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/"
                                        "restful-security-service",
                                        "code": "SMART-on-FHIR",
                                    }
                                ]
                            }
                        ],
                        "description": "Bearer access tokens (JWT) of the hospital's "
                        "authorization server with SMART scopes, e.g. system/RiskAssessment.rs",
                    },
                    "resource": [
                        {
                            "type": "RiskAssessment",
                            "interaction": [{"code": "read"}, {"code": "search-type"}],
                            "searchParam": [{"name": "patient", "type": "reference"}],
                        },
                        {"type": "Device", "interaction": [{"code": "read"}]},
                    ],
                }
            ],
        }
    )
