"""Malformed requests answered 400 in the dialect of the endpoint, never FastAPI's bare 422.

Under ``/fhir`` an OperationOutcome (FHIR's error resource); elsewhere the CDS Hooks error body.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

from fhir_adapter.convert_outcome import operation_outcome

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


def install_error_handlers(app: FastAPI) -> None:
    """Answer request validation errors with 400 and a clear message."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
