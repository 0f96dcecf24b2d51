"""Who may call the CDS Service: the EHR's JWT, verified from the headers before any body is read.

``HookCaller`` is the dependency of every CDS Hooks route (discovery, service, feedback). FastAPI
resolves it before the endpoint runs, and the endpoints read ``request.body()`` themselves, so an
unauthenticated upload is refused with 401 having read none of its bytes.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from cds_app.api.refusal import RefusedError
from cds_app.context import ContextDep
from cds_app.hooks.jwt_auth import Caller
from cds_app.hooks.schemas import ErrorBody
from cds_app.security.jwt_verify import TokenError


def error_response(status: int, error: str, description: str) -> Response:
    """A CDS Hooks error: JSON ``{error, error_description}`` (401s with ``WWW-Authenticate``)."""
    headers = {"WWW-Authenticate": f'Bearer error="{error}"'} if status == 401 else None
    body = ErrorBody(error=error, error_description=description)
    return Response(
        orjson.dumps(body.model_dump()),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def endpoint_label(path: str) -> str:
    """The metrics label of a CDS Hooks path."""
    if path.rstrip("/").endswith("/cds-services"):
        return "discovery"
    return "feedback" if path.endswith("/feedback") else "patient-view"


async def hook_caller(request: Request, ctx: ContextDep) -> Caller:
    """The verified caller of this CDS Hooks request, or a 401 refusal (nothing read yet)."""
    authorization = request.headers.get("authorization")
    path = request.scope["path"]  # the path routed (request.url would build and parse a URL)
    try:
        return await run_in_threadpool(ctx.cds.authenticate, authorization, path)
    except TokenError as exc:
        ctx.metrics.auth_failures.inc()
        ctx.metrics.hook_calls.labels(endpoint_label(path), "401").inc()
        raise RefusedError(error_response(401, "invalid_token", str(exc))) from exc


HookCaller = Annotated[Caller, Depends(hook_caller)]
