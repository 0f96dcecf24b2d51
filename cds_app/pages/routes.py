"""Risk page, film thumbnails, model card and the SMART EHR launch."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from cds_app.context import AppContext
from cds_app.pages.signing import Signer
from cds_app.pages.smart import SmartLaunchError, authorize_url, discover, exchange_code, pkce_pair
from cds_app.pages.view import risk_page_view
from model.schemas import PatientKey

SESSION_COOKIE = "vf_session"
STATE_COOKIE = "vf_smart_state"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))

router = APIRouter(tags=["pages"])


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _signer(ctx: AppContext, purpose: str) -> Signer:
    secret: bytes = ctx.extras.setdefault(
        "session_secret",
        ctx.settings.hooks.session_secret.encode() or secrets.token_bytes(32),
    )
    return Signer(secret, purpose)


def _http(ctx: AppContext) -> httpx.AsyncClient:
    transport = ctx.extras.get("smart_transport")
    return httpx.AsyncClient(transport=transport, timeout=10.0)


def _allowed_patient(request: Request, ctx: AppContext) -> tuple[str | None, str]:
    """The patient key token this browser may see (None: any, in demo mode) and the actor."""
    if ctx.settings.hooks.demo:
        return None, "demo"
    session = _signer(ctx, "session").load(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return "", ""
    return str(session.get("key", "")), str(session.get("user") or "smart-user")


def _forbidden() -> HTMLResponse:
    return HTMLResponse(
        "<p>Open this page from the EHR (SMART launch) to see a patient's risk.</p>",
        status_code=403,
    )


@router.get("/risk", response_class=HTMLResponse)
async def risk_page(request: Request, key: str = Query(min_length=3)) -> Response:
    """The risk trend page of one patient (``key`` = ``system|value``)."""
    ctx = _ctx(request)
    allowed, actor = _allowed_patient(request, ctx)
    if allowed is not None and allowed != key:
        return _forbidden()
    try:
        patient = PatientKey.parse(key)
    except ValueError:
        return HTMLResponse("<p>Unknown patient.</p>", status_code=404)
    view = await run_in_threadpool(risk_page_view, ctx, patient)
    await run_in_threadpool(ctx.card_log.audit, actor, "page-viewed", key, "risk page")
    shadow = ctx.settings.model.shadow_mode
    return TEMPLATES.TemplateResponse(request, "risk.html", {"view": view, "shadow": shadow})


@router.get("/films/{sop_instance_uid}/thumbnail.png", response_class=Response)
async def film_thumbnail(
    request: Request, sop_instance_uid: str, key: str = Query(min_length=3)
) -> Response:
    """The stored thumbnail of a film of the patient ``key``."""
    ctx = _ctx(request)
    allowed, _ = _allowed_patient(request, ctx)
    if allowed is not None and allowed != key:
        return Response(status_code=403)
    row = await run_in_threadpool(ctx.store.film_by_uid, sop_instance_uid)
    if row is None or row.patient_key != key or row.thumbnail_png is None:
        return Response(status_code=404)
    return Response(row.thumbnail_png, media_type="image/png", headers={"Cache-Control": "private"})


@router.get("/model-card", response_class=HTMLResponse)
async def model_card(request: Request) -> Response:
    """The model card of the loaded model (the cards' source link)."""
    ctx = _ctx(request)
    return TEMPLATES.TemplateResponse(
        request,
        "model_card.html",
        {
            "model_id": ctx.model.model_id,
            "model_version": ctx.model.model_version,
            "card": ctx.model_card_markdown or "No model card was bundled with this checkpoint.",
        },
    )


@router.get("/smart/launch", response_class=RedirectResponse)
async def smart_launch(
    request: Request, iss: str = Query(min_length=8), launch: str = Query(min_length=1)
) -> Response:
    """EHR launch: discover the EHR's endpoints and redirect to its authorization endpoint."""
    ctx = _ctx(request)
    try:
        async with _http(ctx) as client:
            endpoints = await discover(client, iss)
    except SmartLaunchError as exc:
        return HTMLResponse(f"<p>{exc}</p>", status_code=400)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    redirect_uri = f"{ctx.settings.base_url}/smart/callback"
    target = authorize_url(
        endpoints,
        client_id=ctx.settings.hooks.smart_client_id,
        redirect_uri=redirect_uri,
        scope=ctx.settings.hooks.smart_scope,
        launch=launch,
        state=state,
        aud=iss,
        challenge=challenge,
    )
    response = RedirectResponse(target, status_code=302)
    cookie = _signer(ctx, "state").dump(
        {"state": state, "verifier": verifier, "token": endpoints.token, "iss": iss}, 600
    )
    response.set_cookie(STATE_COOKIE, cookie, max_age=600, httponly=True, samesite="lax",
                        secure=ctx.settings.base_url.startswith("https://"))  # fmt: skip
    return response


@router.get("/smart/callback", response_class=RedirectResponse)
async def smart_callback(
    request: Request, code: str = Query(min_length=1), state: str = Query(min_length=1)
) -> Response:
    """Exchange the code (PKCE), then open the page of the launch's patient."""
    ctx = _ctx(request)
    saved = _signer(ctx, "state").load(request.cookies.get(STATE_COOKIE))
    if saved is None or not secrets.compare_digest(str(saved.get("state")), state):
        return HTMLResponse("<p>Launch state mismatch; start again from the EHR.</p>", 400)
    try:
        async with _http(ctx) as client:
            token = await exchange_code(
                client,
                str(saved["token"]),
                code=code,
                redirect_uri=f"{ctx.settings.base_url}/smart/callback",
                client_id=ctx.settings.hooks.smart_client_id,
                verifier=str(saved["verifier"]),
            )
    except SmartLaunchError as exc:
        return HTMLResponse(f"<p>{exc}</p>", status_code=400)
    key = await run_in_threadpool(_patient_key_of_launch, ctx, token)
    if key is None:
        return HTMLResponse("<p>This patient has no VentFusion assessment yet.</p>", 404)
    user = token.get("fhirUser") or _id_token_user(token) or "smart-user"
    session = _signer(ctx, "session").dump(
        {"key": key, "user": str(user)}, ctx.settings.hooks.session_ttl_s
    )
    response = RedirectResponse(f"{ctx.settings.base_url}/risk?key={quote(key)}", 302)
    response.set_cookie(SESSION_COOKIE, session, max_age=ctx.settings.hooks.session_ttl_s,
                        httponly=True, samesite="lax",
                        secure=ctx.settings.base_url.startswith("https://"))  # fmt: skip
    response.delete_cookie(STATE_COOKIE)
    return response


def _patient_key_of_launch(ctx: AppContext, token: dict[str, Any]) -> str | None:
    fhir_id = token.get("patient")
    app_context = token.get("appContext")
    if isinstance(app_context, str):
        try:
            parsed = orjson.loads(app_context)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("patient"), str):
            fhir_id = fhir_id or parsed["patient"]
    if not isinstance(fhir_id, str):
        return None
    row = ctx.store.patient_by_fhir_id(fhir_id)
    return row.patient_key if row else None


def _id_token_user(token: dict[str, Any]) -> str | None:
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    import base64

    try:
        claims = orjson.loads(base64.urlsafe_b64decode(id_token.split(".")[1] + "=="))
    except (ValueError, orjson.JSONDecodeError):
        return None
    user = claims.get("fhirUser") or claims.get("sub") if isinstance(claims, dict) else None
    return str(user) if user else None
