"""FastAPI application factory. Everything stateful is built in the lifespan, never at import."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Scope

from cds_app.api import cds_hooks, fhir_read, health, refusal
from cds_app.api.errors import install_error_handlers
from cds_app.api.fhir_notifications import notification_router
from cds_app.api.openapi import install_openapi
from cds_app.context import AppContext
from cds_app.db.outbox import DbOutbox
from cds_app.db.predictions import PredictionRepository
from cds_app.db.security import CardLog
from cds_app.db.session import make_engine, migrate
from cds_app.db.store import Store
from cds_app.engine.rescoring import Rescorer
from cds_app.engine.scorer import RiskEngine
from cds_app.engine.sinks import ScoringFilmSink, ScoringMeasurementSink
from cds_app.fhir_wiring import build_fhir
from cds_app.hooks.factory import build_cds_service
from cds_app.metrics import Metrics
from cds_app.pages import routes as pages
from cds_app.pages import smart_routes
from cds_app.pages.session import PageSessions
from cds_app.pages.smart import SmartLauncher
from cds_app.runtime import load_model, model_card_markdown, start_components
from cds_app.scaleout.debounce import build_debounce_gate
from cds_app.security.access_tokens import AccessTokenVerifier
from cds_app.security.body_limit import BodyLimitMiddleware, endpoint_limits
from cds_app.security.jwt_verify import JwksSource
from cds_app.security.pseudonym_key import build_pseudonymiser
from cds_app.settings import Settings
from model.ports import RiskModel

log = logging.getLogger(__name__)


def build_context(
    settings: Settings,
    model: RiskModel,
    loop: asyncio.AbstractEventLoop,
    fhir_transport: httpx.BaseTransport | None = None,
    *,
    with_fhir: bool = False,
) -> AppContext:
    """Open the database (migrated), and wire store, engine, sinks and the CDS service.

    ``with_fhir``: also build FHIR ingest and write-back when a FHIR server is configured (the
    API process; a DICOM-only process does not receive notifications).
    """
    pseudonymise = build_pseudonymiser(settings)  # fails closed before anything starts
    if not settings.loopback_mode and not (
        settings.fhir.notification_secret or settings.fhir.notification_client_cert_header
    ):
        log.warning("no VENTFUSION_FHIR__NOTIFICATION_SECRET: FHIR notifications are refused")
    db = make_engine(settings.database_url)
    migrate(db)
    store = Store(db, pseudonymise=pseudonymise)
    predictions = PredictionRepository(db)
    outbox = DbOutbox(db)
    card_log = CardLog(db)
    engine = RiskEngine(
        store=store,
        predictions=predictions,
        outbox=outbox,
        model=model,
        lookback_h=settings.model.lookback_h,
        film_max_age_h=settings.model.film_max_age_h,
        write_back=settings.fhir.write_back,
        shadow=settings.model.shadow_mode,
        require_vitals_within_h=settings.model.require_vitals_within_h,
        pseudonymise=pseudonymise,
    )
    rescorer = Rescorer(
        engine,
        loop,
        settings.model.debounce_s,
        gate=build_debounce_gate(settings, db),
        pseudonymise=pseudonymise,
    )
    measurement_sink = ScoringMeasurementSink(store, rescorer)
    fhir = None
    if with_fhir and settings.fhir.base_url:
        fhir = build_fhir(
            settings,
            db=db,
            sink=measurement_sink,
            patients=store,
            outbox=outbox,
            pseudonymise=pseudonymise,
        )
    return AppContext(
        settings=settings,
        db=db,
        store=store,
        predictions=predictions,
        outbox=outbox,
        card_log=card_log,
        model=model,
        engine=engine,
        rescorer=rescorer,
        measurement_sink=measurement_sink,
        film_sink=ScoringFilmSink(store, model, rescorer),
        cds=build_cds_service(
            settings,
            engine=engine,
            store=store,
            card_log=card_log,
            db=db,
            fhir_transport=fhir_transport,
            pseudonymise=pseudonymise,
        ),
        metrics=Metrics(),
        pseudonymise=pseudonymise,
        page_sessions=PageSessions(
            settings.smart.session_secret.get_secret_value().encode()
            or PageSessions.random_secret(),
            base_url=settings.base_url,
            session_ttl_s=settings.smart.session_ttl_s,
            launch_ttl_s=settings.smart.launch_ttl_s,
        ),
        smart=SmartLauncher(settings.smart, redirect_uri=f"{settings.base_url}/smart/callback"),
        model_card_markdown=model_card_markdown(model),
        fhir=fhir,
        read_api=read_api_verifier(settings),
    )


def read_api_verifier(settings: Settings) -> AccessTokenVerifier | None:
    """The read API's access-token check (None: no authorization server, API not mounted)."""
    read_api = settings.read_api
    if not read_api.enabled:
        return None
    return AccessTokenVerifier(
        read_api.issuer,
        JwksSource(read_api.jwks, refresh_s=read_api.jwks_refresh_s),
        audience=read_api.audience or f"{settings.base_url}/fhir",
        leeway_s=read_api.clock_skew_s,
    )


def create_app(
    settings: Settings,
    *,
    model: RiskModel | None = None,
    hook_fhir_transport: httpx.BaseTransport | None = None,
) -> FastAPI:
    """Build the app for one process; ``settings`` is the process's one settings object.

    ``model`` replaces the checkpoint of ``settings.model`` (tests inject small fakes);
    ``hook_fhir_transport`` carries the patient-view fallback reads to the ``fhirServer``.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        risk_model = model if model is not None else await asyncio.to_thread(load_model, settings)
        ctx = await asyncio.to_thread(
            build_context, settings, risk_model, loop, hook_fhir_transport, with_fhir=True
        )
        app.state.ctx = ctx
        app.state.settings = settings
        async with AsyncExitStack() as stack:
            app.state.running = await start_components(ctx, stack)
            # Heavy imports (torch, FastAPI) leave many objects: freeze them out of the collector
            # so full collections do not show up as request tail latency (performance-notes.md).
            gc.collect()
            gc.freeze()
            app.state.ready = True
            try:
                yield
            finally:
                app.state.ready = False
                await ctx.rescorer.drain()
        ctx.db.dispose()

    app = FastAPI(title="VentFusion", version="0.1.0", lifespan=lifespan)
    app.state.ready = False
    refusal.install(app)
    install_error_handlers(app)
    install_openapi(app)
    security = settings.security
    limits, default_limit = endpoint_limits(
        hook=security.max_hook_body_bytes,
        feedback=security.max_feedback_body_bytes,
        notification=security.max_notification_body_bytes,
        other=security.max_other_body_bytes,
    )
    app.add_middleware(
        BodyLimitMiddleware, limits=limits, default=default_limit, observe=_count_body
    )
    if settings.hooks.cors_origins:  # added last: outermost, so 401/413 carry CORS headers
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.hooks.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
        )
    app.include_router(health.router)
    app.include_router(cds_hooks.router)
    app.include_router(pages.router)
    app.include_router(smart_routes.router)
    if settings.read_api.enabled:  # no authorization server: no read API at all
        app.include_router(fhir_read.router)
    app.include_router(notification_router(settings))
    return app


def _count_body(scope: Scope, endpoint: str, received: int, refused: bool) -> None:
    ctx: AppContext | None = getattr(scope["app"].state, "ctx", None)
    if ctx is None:
        return
    if received:
        ctx.metrics.body_bytes.labels(endpoint).inc(received)
    if refused:
        ctx.metrics.body_refused.labels(endpoint).inc()


def create_app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory`` worker processes: settings from the environment."""
    from cds_app.logging_setup import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, json_format=settings.log_json)
    return create_app(settings)
