"""Risk page, film thumbnails and model card (the SMART launch: ``smart_routes``).

Who may see a patient's page or film: the browser whose SMART launch opened that patient
(``PageSessions``), or anyone on loopback in demo mode (``VENTFUSION_HOOKS__DEMO``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cds_app.context import AppContext, ContextDep
from cds_app.pages.view import risk_page_view
from model.schemas import PatientKey

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))

router = APIRouter(tags=["pages"])


def _allowed_patient(request: Request, ctx: AppContext) -> tuple[str | None, str]:
    """The patient key this browser may see (None: any, in demo mode; "": none) and the actor."""
    if ctx.settings.hooks.demo:
        return None, "demo"
    session = ctx.page_sessions.session_of(request)
    if session is None:
        return "", ""
    return session.patient_key, session.user


def _forbidden() -> HTMLResponse:
    return HTMLResponse(
        "<p>Open this page from the EHR (SMART launch) to see a patient's risk.</p>",
        status_code=403,
        headers=PRIVATE,
    )


@router.get("/risk", response_class=HTMLResponse)
async def risk_page(
    request: Request,
    ctx: ContextDep,
    key: str | None = Query(default=None, min_length=3, max_length=300),
) -> Response:
    """The risk trend page of the launched patient (or of ``key`` = ``system|value`` in demo)."""
    allowed, actor = _allowed_patient(request, ctx)
    key = key or allowed
    if not key or (allowed is not None and allowed != key):
        return _forbidden()
    try:
        patient = PatientKey.parse(key)
    except ValueError:
        return HTMLResponse("<p>Unknown patient.</p>", status_code=404)
    view = await run_in_threadpool(risk_page_view, ctx, patient)
    await run_in_threadpool(ctx.card_log.audit, actor, "page-viewed", key, "risk page")
    shadow = ctx.settings.model.shadow_mode
    return TEMPLATES.TemplateResponse(
        request, "risk.html", {"view": view, "shadow": shadow}, headers=PRIVATE
    )


@router.get("/films/{sop_instance_uid}/thumbnail.png", response_class=Response)
async def film_thumbnail(
    request: Request,
    sop_instance_uid: str,
    ctx: ContextDep,
    key: str = Query(min_length=3, max_length=300),
) -> Response:
    """The stored thumbnail of a film of the patient ``key``."""
    allowed, _ = _allowed_patient(request, ctx)
    if allowed is not None and allowed != key:
        return Response(status_code=403)
    row = await run_in_threadpool(ctx.store.film_by_uid, sop_instance_uid)
    if row is None or row.patient_key != key or row.thumbnail_png is None:
        return Response(status_code=404)
    return Response(row.thumbnail_png, media_type="image/png", headers=PRIVATE)


@router.get("/model-card", response_class=HTMLResponse)
async def model_card(request: Request, ctx: ContextDep) -> Response:
    """The model card of the loaded model (the cards' source link)."""
    return TEMPLATES.TemplateResponse(
        request,
        "model_card.html",
        {
            "model_id": ctx.model.model_id,
            "model_version": ctx.model.model_version,
            "card": ctx.model_card_markdown or "No model card was bundled with this checkpoint.",
        },
    )
