"""Who may read the read-only FHIR API: holders of a verified access token with SMART scopes.

``ReadGrant`` verifies ``Authorization: Bearer <JWT>`` against the configured authorization
server (``VENTFUSION_READ_API__*``) and refuses with an OperationOutcome: 401 with
``WWW-Authenticate`` for a missing or invalid token (RFC 6750), 403 for a token whose scopes or
patient context do not cover the request.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from cds_app.api.refusal import RefusedError
from cds_app.context import AppContext, ContextDep
from cds_app.security.access_tokens import AccessGrant, AccessTokenVerifier, ForbiddenError
from cds_app.security.jwt_verify import TokenError
from fhir_adapter.outcome_building import operation_outcome

FHIR_JSON = "application/fhir+json"
REALM = 'realm="VentFusion FHIR"'


def _quoted(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")[:200]


def refusal(status: int, text: str, *, error: str = "", scope: str = "") -> RefusedError:
    """A 401/403 OperationOutcome with the RFC 6750 challenge."""
    challenge = f"Bearer {REALM}"
    if error:
        challenge += f', error="{error}", error_description="{_quoted(text)}"'
    if scope:
        challenge += f', scope="{scope}"'
    code = "login" if status == 401 else "forbidden"
    body = orjson.dumps(operation_outcome(code, text))
    headers = {"WWW-Authenticate": challenge, "Cache-Control": "no-store"}
    return RefusedError(Response(body, status, headers=headers, media_type=FHIR_JSON))


def forbidden(ctx: AppContext, exc: ForbiddenError, scope: str) -> RefusedError:
    """403 for a valid token that does not cover ``scope``'s resource or patient."""
    ctx.metrics.read_api_refusals.labels("403").inc()
    return refusal(403, str(exc), error="insufficient_scope", scope=scope)


async def read_grant(request: Request, ctx: ContextDep) -> AccessGrant:
    """The verified grant of this request's access token, or a 401 refusal."""
    verifier: AccessTokenVerifier | None = ctx.read_api
    authorization = request.headers.get("authorization")
    if verifier is None:  # the router is only mounted with a verifier; fail closed regardless
        raise refusal(401, "no authorization server configured", error="invalid_token")
    if not authorization:
        ctx.metrics.read_api_refusals.labels("401").inc()
        raise refusal(401, "an access token is required")
    try:
        return await run_in_threadpool(verifier.verify, authorization)
    except TokenError as exc:
        ctx.metrics.read_api_refusals.labels("401").inc()
        raise refusal(401, str(exc), error="invalid_token") from exc


ReadGrant = Annotated[AccessGrant, Depends(read_grant)]
