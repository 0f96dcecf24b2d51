"""CDS Hooks 2.0 routes: discovery, the patient-view service, feedback."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from cds_app.context import AppContext
from cds_app.hooks.errors import BadRequestError, DataUnavailableError
from cds_app.hooks.jwt_auth import AuthError, Caller
from cds_app.hooks.schemas import CdsResponse, Discovery, ErrorBody

router = APIRouter(tags=["cds-hooks"])

T = TypeVar("T")

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody},
    401: {"model": ErrorBody},
    404: {"model": ErrorBody},
    412: {"model": ErrorBody},
}


class FeedbackAck(BaseModel):
    received: int


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(
        orjson.dumps(model.model_dump(mode="json", exclude_none=True)),
        status_code=status,
        media_type="application/json",
    )


def _error(status: int, error: str, description: str) -> Response:
    headers = {"WWW-Authenticate": f'Bearer error="{error}"'} if status == 401 else None
    body = ErrorBody(error=error, error_description=description)
    return Response(
        orjson.dumps(body.model_dump()),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


async def _guarded(
    request: Request,
    endpoint: str,
    work: Callable[[Caller], T],
    to_response: Callable[[T], Response],
) -> Response:
    ctx: AppContext = request.app.state.ctx
    authorization = request.headers.get("authorization")
    path = request.url.path

    def run() -> Response:
        try:
            caller = ctx.cds.authenticate(authorization, path)
        except AuthError as exc:
            ctx.metrics.auth_failures.inc()
            return _error(401, "invalid_token", str(exc))
        try:
            return to_response(work(caller))
        except BadRequestError as exc:
            return _error(400, "invalid_request", str(exc))
        except DataUnavailableError as exc:
            return _error(412, "precondition_failed", str(exc))

    response = await run_in_threadpool(run)
    ctx.metrics.hook_calls.labels(endpoint, str(response.status_code)).inc()
    return response


@router.get("/cds-services", response_model=Discovery, responses=ERRORS)
async def discovery(request: Request) -> Response:
    """The CDS Services this server offers."""
    ctx: AppContext = request.app.state.ctx
    return await _guarded(request, "discovery", lambda _caller: ctx.cds.discovery(), _json)


@router.post("/cds-services/{service_id}", response_model=CdsResponse, responses=ERRORS)
async def call_service(service_id: str, request: Request) -> Response:
    """Invoke the patient-view service."""
    ctx: AppContext = request.app.state.ctx
    if service_id != ctx.cds.config.service_id:
        return _error(404, "not_found", f"no CDS service {service_id!r}")
    body = await request.body()
    started = time.perf_counter()

    def answer(result: CdsResponse) -> Response:
        for card in result.cards:
            ctx.metrics.cards.labels(card.indicator).inc()
        ctx.metrics.hook_latency.observe(time.perf_counter() - started)
        return _json(result)

    return await _guarded(
        request, "patient-view", lambda caller: ctx.cds.patient_view(body, caller), answer
    )


@router.post("/cds-services/{service_id}/feedback", response_model=FeedbackAck, responses=ERRORS)
async def feedback(service_id: str, request: Request) -> Response:
    """Record what the clinician did with our cards."""
    ctx: AppContext = request.app.state.ctx
    if service_id != ctx.cds.config.service_id:
        return _error(404, "not_found", f"no CDS service {service_id!r}")
    body = await request.body()
    return await _guarded(
        request,
        "feedback",
        lambda caller: ctx.cds.feedback(body, caller),
        lambda count: _json(FeedbackAck(received=count)),
    )
