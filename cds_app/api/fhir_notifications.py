"""The FHIR subscription notification receiver (both R4 rest-hook and Backport styles).

Who may call: the EHR that knows the shared secret, or whose client certificate the TLS proxy
verified (mTLS); outside loopback mode one of the two is required, and without either configured
every notification is refused. The check reads only headers, before the body.

Answers with OperationOutcome JSON: 400 malformed body (decoded with the typed models of
``fhir_adapter.resources``: a wrong shape is a 400 with its reason, never a 500, which the EHR
would retry forever), 415 non-JSON content, 401 wrong or missing shared secret, 413 oversized
body, 503 when the EHR cannot be re-read or the database cannot store (so it retries the
notification), 502 when the EHR refuses the re-read or answers it with something not FHIR.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import SQLAlchemyError

from cds_app.context import app_context
from fhir_adapter.errors import (
    FhirAuthError,
    FhirHttpError,
    NotificationFormatError,
    UnsupportedContentTypeError,
)
from fhir_adapter.notification_parsing import parse_notification
from fhir_adapter.outcome_building import operation_outcome
from fhir_adapter.processor import NotificationProcessor

if TYPE_CHECKING:
    from cds_app.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_NOTIFICATION_HEADER = "X-VentFusion-Secret"
ProcessorGetter = Callable[[Request], NotificationProcessor | None]


def _outcome(status: int, code: str, text: str, severity: str = "error") -> Response:
    body = orjson.dumps(operation_outcome(code, text, severity))
    return Response(body, status_code=status, media_type="application/fhir+json")


def _secret_ok(request: Request, secret: str, header_name: str) -> bool:
    given = request.headers.get(header_name, "")
    if not given:
        auth = request.headers.get("Authorization", "")
        given = auth[7:] if auth.lower().startswith("bearer ") else ""
    return hmac.compare_digest(given.encode(), secret.encode())


def _refusal(
    request: Request, secret: str, header_name: str, client_cert_header: str, require_auth: bool
) -> str | None:
    """Why the sender is not authenticated (None: it is), from the headers alone."""
    if secret and _secret_ok(request, secret, header_name):
        return None
    if client_cert_header and request.headers.get(client_cert_header, "") == "SUCCESS":
        return None
    if secret or client_cert_header:
        return "wrong or missing notification secret (or client certificate)"
    if require_auth:
        return "notifications are refused until VENTFUSION_FHIR__NOTIFICATION_SECRET is set"
    return None  # loopback mode without a secret: only this host can reach us


def build_fhir_notification_router(
    get_processor: ProcessorGetter,
    *,
    secret: str = "",
    header_name: str = DEFAULT_NOTIFICATION_HEADER,
    prefix: str = "/fhir/notifications",
    max_body_bytes: int = 32 * 1024 * 1024,
    client_cert_header: str = "",
    require_auth: bool = True,
) -> APIRouter:
    """Routes POST/PUT ``prefix`` and ``prefix/{Type}/{id}`` (R4 rest-hook with payload).

    ``client_cert_header``: the header a TLS-terminating proxy sets to ``SUCCESS`` for a
    verified client certificate; ``require_auth``: refuse everything when neither it nor
    ``secret`` is configured (False only in loopback mode).
    """
    router = APIRouter(tags=["fhir"])

    async def receive(request: Request) -> Response:
        refused = _refusal(request, secret, header_name, client_cert_header, require_auth)
        if refused is not None:
            logger.warning("notification refused: %s", refused)
            return _outcome(401, "security", refused)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body_bytes:
            return _outcome(413, "too-costly", f"notification larger than {max_body_bytes} bytes")
        body = await request.body()
        if len(body) > max_body_bytes:
            return _outcome(413, "too-costly", f"notification larger than {max_body_bytes} bytes")
        path_hint = request.path_params.get("rest", "")
        try:
            hint = parse_notification(body, request.headers.get("content-type"), path_hint)
        except UnsupportedContentTypeError as exc:
            return _outcome(415, "not-supported", str(exc))
        except NotificationFormatError as exc:
            return _outcome(400, "structure", str(exc))
        processor = get_processor(request)
        if processor is None:
            return _outcome(503, "transient", "no FHIR server configured for re-reads")
        try:
            report = await processor.process(hint)
        except (FhirHttpError, FhirAuthError) as exc:
            if isinstance(exc, FhirHttpError) and not exc.transient:
                logger.error("notification not processed: %s", exc)
                return _outcome(502, "exception", "the FHIR server refused the re-read")
            logger.warning("notification not processed, EHR unavailable: %s", exc)
            return _outcome(503, "transient", "the FHIR server could not be re-read; retry")
        except SQLAlchemyError as exc:  # our database is down or busy: the EHR should retry
            logger.error("notification not stored: %s", type(exc).__name__)
            return _outcome(503, "transient", "the notification could not be stored; retry")
        text = (
            f"{hint.kind}: {report.observations} observations, {report.measurements} new "
            f"measurements, {report.duplicates} duplicates, {len(report.rejected)} rejected"
        )
        return _outcome(200, "informational", text, severity="information")

    for name, path in (
        ("notification", prefix),
        ("resource_notification", prefix + "/{rest:path}"),
    ):
        for method in ("POST", "PUT"):
            router.add_api_route(path, receive, methods=[method],
                                 operation_id=f"{name}_{method.lower()}")  # fmt: skip
    return router


def _processor_of(request: Request) -> NotificationProcessor | None:
    fhir = app_context(request).fhir
    return fhir.processor if fhir is not None else None


def notification_router(settings: Settings) -> APIRouter:
    """The receiver the app mounts: processor from ``app.state.ctx``, secrets from settings."""
    fhir = settings.fhir
    return build_fhir_notification_router(
        _processor_of,
        secret=fhir.notification_secret,
        header_name=fhir.notification_header,
        client_cert_header=fhir.notification_client_cert_header,
        require_auth=not settings.loopback_mode,
    )
