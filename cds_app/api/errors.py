"""Errors answered at the edge, in the dialect of the endpoint: one handler per package root.

Under ``/fhir`` an OperationOutcome (FHIR's error resource); elsewhere the CDS Hooks error body
``{error, error_description}``. Malformed requests are 400, never FastAPI's bare 422. A root
error of a package (``CdsAppError``, ``FhirAdapterError``, ``ModelError``) or of the database
(``SQLAlchemyError``) that no route handled is answered here with a status of its kind
(``ERROR_STATUS``), so none of them becomes a 500; CDS Hooks answers are counted in
``ventfusion_hook_calls`` whatever their status.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError

from cds_app import CdsAppError
from cds_app.api.hook_auth import endpoint_label, error_response
from cds_app.context import AppContext
from cds_app.hooks.errors import BadRequestError, DataUnavailableError
from cds_app.security.access_tokens import ForbiddenError
from cds_app.security.jwt_verify import TokenError
from fhir_adapter import FhirAdapterError
from fhir_adapter.errors import FhirHttpError
from fhir_adapter.outcome_building import operation_outcome
from model import ModelError

log = logging.getLogger(__name__)

#: (HTTP status, CDS Hooks error code, FHIR issue type) per error class, most specific first.
ERROR_STATUS: tuple[tuple[type[Exception], int, str, str], ...] = (
    (BadRequestError, 400, "invalid_request", "invalid"),
    (DataUnavailableError, 412, "precondition_failed", "not-found"),
    (ForbiddenError, 403, "insufficient_scope", "forbidden"),
    (TokenError, 401, "invalid_token", "security"),
    (CdsAppError, 503, "temporarily_unavailable", "transient"),
    (FhirHttpError, 502, "bad_gateway", "exception"),  # the EHR answered an error
    (FhirAdapterError, 502, "bad_gateway", "exception"),
    (ModelError, 503, "temporarily_unavailable", "transient"),  # the model could not score
    (SQLAlchemyError, 503, "temporarily_unavailable", "transient"),  # database down or busy
)

FHIR_JSON = "application/fhir+json"


def fhir_error(status: int, code: str, text: str) -> Response:
    """An OperationOutcome response (``code`` from the FHIR issue-type value set)."""
    return Response(
        orjson.dumps(operation_outcome(code, text)), status_code=status, media_type=FHIR_JSON
    )


def _explain(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)[:1000] or "invalid request"


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    text = _explain(exc)
    if request.url.path.startswith("/fhir"):
        return fhir_error(400, "invalid", text)
    body = {"error": "invalid_request", "error_description": text}
    return Response(orjson.dumps(body), status_code=400, media_type="application/json")


def _classify(exc: Exception) -> tuple[int, str, str]:
    if isinstance(exc, FhirHttpError) and exc.transient:
        return 503, "temporarily_unavailable", "transient"
    for kind, status, error, issue in ERROR_STATUS:
        if isinstance(exc, kind):
            return status, error, issue
    raise exc  # registered only for the classes above


def _message(exc: Exception, status: int) -> str:
    if isinstance(exc, SQLAlchemyError):  # its text can carry SQL and parameters
        return f"the database could not answer ({type(exc).__name__}); retry"
    return str(exc)[:1000] or type(exc).__name__


async def _package_error(request: Request, exc: Exception) -> Response:
    status, error, issue = _classify(exc)
    text = _message(exc, status)
    if status >= 500:
        log.error("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, text)
    path = request.url.path
    if path.startswith("/cds-services"):
        ctx: AppContext | None = getattr(request.app.state, "ctx", None)
        if ctx is not None:
            ctx.metrics.hook_calls.labels(endpoint_label(path), str(status)).inc()
    if path.startswith("/fhir"):
        return fhir_error(status, issue, text)
    return error_response(status, error, text)


def install_error_handlers(app: FastAPI) -> None:
    """400 for malformed requests; each package root error answered with its status."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for kind in (CdsAppError, FhirAdapterError, ModelError, SQLAlchemyError):
        app.add_exception_handler(kind, _package_error)
