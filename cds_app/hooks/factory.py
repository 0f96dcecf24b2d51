"""Builds the CDS service and its JWT verifier from settings."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from cds_app.db.hook_responses import HookResponses
from cds_app.db.security import CardLog, DbReplayCache
from cds_app.db.store import Store
from cds_app.engine.scorer import RiskEngine
from cds_app.hooks.compute_gate import ComputeGate, default_slots
from cds_app.hooks.jwt_auth import JwksSource, JwtVerifier, RedisReplayCache, ReplayCache
from cds_app.hooks.service import CdsService, HookConfig
from cds_app.settings import Settings
from fhir_adapter.codes import load_code_table
from model.ports import Pseudonymiser, redacted_patient


def build_verifier(settings: Settings, db: Engine) -> JwtVerifier | None:
    """The JWT verifier (None only in the explicit, loopback-only insecure mode)."""
    hooks = settings.hooks
    if hooks.insecure:
        return None
    issuers: dict[str, JwksSource] = {}
    for iss, location in hooks.trusted_issuers.items():
        where = location or (str(hooks.jwks_file) if hooks.jwks_file else "")
        if where:
            issuers[iss] = JwksSource(where, refresh_s=hooks.jwks_refresh_s)
    replay: ReplayCache = (
        RedisReplayCache(settings.redis_url) if settings.redis_url else DbReplayCache(db)
    )
    return JwtVerifier(
        issuers,
        replay,
        leeway_s=hooks.clock_skew_s,
        max_lifetime_s=hooks.max_token_lifetime_s,
    )


def build_cds_service(
    settings: Settings,
    *,
    engine: RiskEngine,
    store: Store,
    card_log: CardLog,
    db: Engine,
    fhir_transport: httpx.BaseTransport | None = None,
    pseudonymise: Pseudonymiser = redacted_patient,
) -> CdsService:
    """The patient-view service of this process."""
    config = HookConfig(
        service_id=settings.hooks.service_id,
        base_url=settings.base_url,
        audience_base=(settings.hooks.audience or settings.base_url).rstrip("/"),
        mrn_system=settings.mrn_system,
        lookback_h=settings.model.lookback_h,
        fhir_budget_s=settings.hooks.fhir_timeout_s,
        low_risk_card=settings.hooks.low_risk_card,
        shadow_mode=settings.model.shadow_mode,
        clock_skew_s=settings.hooks.clock_skew_s,
    )
    return CdsService(
        config,
        verifier=build_verifier(settings, db),
        engine=engine,
        store=store,
        card_log=card_log,
        responses=HookResponses(db),
        db=db,
        codes=load_code_table(settings.fhir.local_codes_file),
        fhir_transport=fhir_transport,
        pseudonymise=pseudonymise,
        gate=ComputeGate(settings.hooks.compute_slots or default_slots()),
    )
