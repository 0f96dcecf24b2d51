"""``/smart/launch`` and ``/smart/callback``: how a clinician's browser gets a page session.

Who may call: anyone may start a launch, but only an allowlisted EHR's ``iss`` leads anywhere
(anything else is an error page, never a redirect); the callback opens a session only for the
browser that started the launch (state cookie), with a code the EHR issued for our PKCE
verifier and an id_token the EHR signed for our client id and this launch's nonce.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from cds_app.context import AppContext, ContextDep
from cds_app.pages.session import PageSession
from cds_app.pages.smart import SmartLaunchError

log = logging.getLogger(__name__)
router = APIRouter(tags=["pages"])
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def error_page(text: str, status: int = 400) -> HTMLResponse:
    """A plain error page (escaped); launches never redirect on error."""
    body = f"<!doctype html><title>VentFusion</title><p>{html.escape(text)}</p>"
    return HTMLResponse(body, status_code=status, headers=NO_STORE)


@router.get("/smart/launch", response_class=RedirectResponse)
async def smart_launch(
    request: Request,
    ctx: ContextDep,
    iss: str = Query(default="", max_length=2048),
    launch: str = Query(default="", max_length=4096),
) -> Response:
    """EHR launch: check the allowlist, discover the EHR, redirect to its authorize endpoint."""
    if not iss or not launch:
        return error_page("A launch needs iss and launch: open VentFusion from your EHR.")
    try:
        ctx.smart.registration(iss)  # before any request to, or redirect towards, this iss
        endpoints = await ctx.smart.discover(iss)
    except SmartLaunchError as exc:
        log.warning("SMART launch refused: %s", exc)
        return error_page(f"{exc}. Open VentFusion from your EHR.")
    response = RedirectResponse("", status_code=302, headers=NO_STORE)
    started = ctx.page_sessions.start_launch(response, iss)
    response.headers["location"] = ctx.smart.authorize_url(
        endpoints, iss, launch=launch, state=started.state, nonce=started.nonce,
        verifier=started.verifier,
    )  # fmt: skip
    return response


@router.get("/smart/callback", response_class=RedirectResponse)
async def smart_callback(
    request: Request,
    ctx: ContextDep,
    state: str = Query(default="", max_length=128),
    code: str | None = Query(default=None, max_length=4096),
    error: str | None = Query(default=None, max_length=200),
) -> Response:
    """Exchange the code (PKCE), verify the id_token, open the launched patient's page."""
    launch = ctx.page_sessions.launch_of(request, state)
    if launch is None:
        return error_page("This launch was not started in this browser or has expired; "
                          "open VentFusion from the EHR again.")  # fmt: skip
    if error or not code:
        return error_page(f"The EHR did not authorise the launch ({error or 'no code'}).")
    try:
        endpoints = await ctx.smart.discover(launch.iss)
        token = await ctx.smart.exchange_code(
            endpoints, launch.iss, code=code, verifier=launch.verifier
        )
        claims = await run_in_threadpool(
            ctx.smart.verify_id_token, endpoints, launch.iss, token.get("id_token"),
            nonce=launch.nonce,
        )  # fmt: skip
    except SmartLaunchError as exc:
        log.warning("SMART launch refused at the callback: %s", exc)
        return error_page(f"{exc}. Open VentFusion from the EHR again.")
    key = await run_in_threadpool(_patient_key_of_launch, ctx, token)
    if key is None:
        return error_page("This patient has no VentFusion assessment yet.", 404)
    user = claims.get("fhirUser") or claims.get("sub") or "smart-user"
    response = RedirectResponse(f"{ctx.settings.base_url}/risk", 302, headers=NO_STORE)
    ctx.page_sessions.open_session(response, PageSession(key, str(user), launch.iss))
    ctx.page_sessions.end_launch(response, state)
    return response


def _patient_key_of_launch(ctx: AppContext, token: dict[str, Any]) -> str | None:
    """The patient key of the launch context (``patient``, else the card's ``appContext``)."""
    fhir_id = token.get("patient")
    app_context = token.get("appContext")
    if not isinstance(fhir_id, str) and isinstance(app_context, str):
        try:
            parsed = orjson.loads(app_context)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("patient"), str):
            fhir_id = parsed["patient"]
    if not isinstance(fhir_id, str) or not fhir_id or len(fhir_id) > 64:
        return None
    row = ctx.store.patient_by_fhir_id(fhir_id)
    return row.patient_key if row else None
