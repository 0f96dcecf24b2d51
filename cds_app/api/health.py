"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import text

from cds_app.context import ContextDep, app_context

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: str
    detail: str | None = None


@router.get("/healthz", response_model=Status, response_model_exclude_none=True)
def healthz() -> Status:
    """The process is up."""
    return Status(status="ok")


@router.get(
    "/readyz",
    response_model=Status,
    response_model_exclude_none=True,
    responses={503: {"model": Status}},
)
async def readyz(request: Request, response: Response) -> Status:
    """Ready to serve: started, database reachable."""
    if not getattr(request.app.state, "ready", False):
        response.status_code = 503
        return Status(status="starting")
    db = app_context(request).db  # not a dependency: answers "starting" before ctx exists

    def ping() -> None:
        with db.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as exc:
        response.status_code = 503
        return Status(status="unavailable", detail=f"database: {type(exc).__name__}")
    return Status(status="ready")


@router.get("/metrics", response_class=Response)
def metrics(ctx: ContextDep) -> Response:
    """Prometheus text exposition."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
