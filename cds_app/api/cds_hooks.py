"""CDS Hooks 2.0 routes: discovery, the patient-view service, feedback.

Who may call: only an EHR whose JWT verifies (``HookCaller``, checked from the headers before
the body is read); bodies are bounded while they stream (``cds_app.security.body_limit``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from cds_app.api.hook_auth import HookCaller, error_response
from cds_app.context import AppContext
from cds_app.hooks.errors import BadRequestError, DataUnavailableError
from cds_app.hooks.jwt_auth import Caller
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


async def _guarded(
    request: Request,
    endpoint: str,
    caller: Caller,
    work: Callable[[Caller], T],
    to_response: Callable[[T], Response],
) -> Response:
    ctx: AppContext = request.app.state.ctx

    def run() -> Response:
        try:
            return to_response(work(caller))
        except BadRequestError as exc:
            return error_response(400, "invalid_request", str(exc))
        except DataUnavailableError as exc:
            return error_response(412, "precondition_failed", str(exc))

    response = await run_in_threadpool(run)
    ctx.metrics.hook_calls.labels(endpoint, str(response.status_code)).inc()
    return response


@router.get("/cds-services", response_model=Discovery, responses=ERRORS)
async def discovery(request: Request, caller: HookCaller) -> Response:
    """The CDS Services this server offers."""
    ctx: AppContext = request.app.state.ctx
    return await _guarded(request, "discovery", caller, lambda _c: ctx.cds.discovery(), _json)


@router.post("/cds-services/{service_id}", response_model=CdsResponse, responses=ERRORS)
async def call_service(service_id: str, request: Request, caller: HookCaller) -> Response:
    """Invoke the patient-view service."""
    ctx: AppContext = request.app.state.ctx
    if service_id != ctx.cds.config.service_id:
        return error_response(404, "not_found", f"no CDS service {service_id!r}")
    body = await request.body()  # only now, authenticated; bounded by the body-limit middleware
    started = time.perf_counter()

    def answer(result: CdsResponse) -> Response:
        for card in result.cards:
            ctx.metrics.cards.labels(card.indicator).inc()
        ctx.metrics.hook_latency.observe(time.perf_counter() - started)
        return _json(result)

    return await _guarded(
        request, "patient-view", caller, lambda c: ctx.cds.patient_view(body, c), answer
    )


@router.post("/cds-services/{service_id}/feedback", response_model=FeedbackAck, responses=ERRORS)
async def feedback(service_id: str, request: Request, caller: HookCaller) -> Response:
    """Record what the clinician did with our cards."""
    ctx: AppContext = request.app.state.ctx
    if service_id != ctx.cds.config.service_id:
        return error_response(404, "not_found", f"no CDS service {service_id!r}")
    body = await request.body()  # only now, authenticated; bounded by the body-limit middleware
    return await _guarded(
        request,
        "feedback",
        caller,
        lambda c: ctx.cds.feedback(body, c),
        lambda count: _json(FeedbackAck(received=count)),
    )
