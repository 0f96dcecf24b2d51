"""CDS Hooks 2.0 routes: discovery, the patient-view service, feedback.

Who may call: only an EHR whose JWT verifies (``HookCaller``, checked from the headers before
the body is read); bodies are bounded while they stream (``cds_app.security.body_limit``).
Errors of the service (400 bad request, 412 data unavailable, ...) are answered by the app's
handlers (``cds_app.api.errors``), which also count them.
"""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from cds_app.api.hook_auth import HookCaller, error_response
from cds_app.api.refusal import RefusedError
from cds_app.context import AppContext, ContextDep
from cds_app.hooks.schemas import CdsResponse, Discovery, ErrorBody

router = APIRouter(tags=["cds-hooks"])

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody},
    401: {"model": ErrorBody},
    404: {"model": ErrorBody},
    412: {"model": ErrorBody},
}


class FeedbackAck(BaseModel):
    received: int


def _json(ctx: AppContext, endpoint: str, model: BaseModel) -> Response:
    ctx.metrics.hook_calls.labels(endpoint, "200").inc()
    return Response(
        orjson.dumps(model.model_dump(mode="json", exclude_none=True)),
        media_type="application/json",
    )


async def _service_body(ctx: AppContext, service_id: str, request: Request) -> bytes:
    """The body of a call to our service (404 for another id), read only now: the caller is
    authenticated, and the body-limit middleware bounds it."""
    if service_id != ctx.cds.config.service_id:
        raise RefusedError(error_response(404, "not_found", f"no CDS service {service_id!r}"))
    return await request.body()


@router.get("/cds-services", response_model=Discovery, responses=ERRORS)
async def discovery(ctx: ContextDep, caller: HookCaller) -> Response:
    """The CDS Services this server offers."""
    return _json(ctx, "discovery", await run_in_threadpool(ctx.cds.discovery))


@router.post("/cds-services/{service_id}", response_model=CdsResponse, responses=ERRORS)
async def call_service(
    service_id: str, request: Request, ctx: ContextDep, caller: HookCaller
) -> Response:
    """Invoke the patient-view service."""
    body = await _service_body(ctx, service_id, request)
    started = time.perf_counter()
    answer = await run_in_threadpool(ctx.cds.patient_view, body, caller)
    for indicator in answer.indicators:
        ctx.metrics.cards.labels(indicator).inc()
    ctx.metrics.hook_latency.observe(time.perf_counter() - started)
    ctx.metrics.hook_calls.labels("patient-view", "200").inc()
    return Response(orjson.dumps(answer.json), media_type="application/json")


@router.post("/cds-services/{service_id}/feedback", response_model=FeedbackAck, responses=ERRORS)
async def feedback(
    service_id: str, request: Request, ctx: ContextDep, caller: HookCaller
) -> Response:
    """Record what the clinician did with our cards."""
    body = await _service_body(ctx, service_id, request)
    count = await run_in_threadpool(ctx.cds.feedback, body, caller)
    return _json(ctx, "feedback", FeedbackAck(received=count))
