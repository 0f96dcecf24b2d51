"""Everything a running app holds, built once in the lifespan and hung on ``app.state.ctx``.

Routes take it as the ``ContextDep`` dependency; nothing fills it in after it is built (what the
lifespan *starts*, such as the DICOM listener, is in ``cds_app.runtime.RunningComponents``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from cds_app.db.outbox import DbOutbox
from cds_app.db.predictions import PredictionRepository
from cds_app.db.security import CardLog
from cds_app.db.store import Store
from cds_app.engine.rescoring import Rescorer
from cds_app.engine.scorer import RiskEngine
from cds_app.engine.sinks import ScoringFilmSink, ScoringMeasurementSink
from cds_app.fhir_wiring import FhirComponents
from cds_app.hooks.service import CdsService
from cds_app.metrics import Metrics
from cds_app.pages.session import PageSessions
from cds_app.pages.smart import SmartLauncher
from cds_app.security.access_tokens import AccessTokenVerifier
from cds_app.settings import Settings
from model.ports import Pseudonymiser, RiskModel


@dataclass
class AppContext:
    """The composition of one process (no globals: routes take it as ``ContextDep``)."""

    settings: Settings
    db: Engine
    store: Store
    predictions: PredictionRepository
    outbox: DbOutbox
    card_log: CardLog
    model: RiskModel
    engine: RiskEngine
    rescorer: Rescorer
    measurement_sink: ScoringMeasurementSink
    film_sink: ScoringFilmSink
    cds: CdsService
    metrics: Metrics
    pseudonymise: Pseudonymiser  # keyed patient tokens for every log line
    page_sessions: PageSessions  # the risk page's launch and session cookies
    smart: SmartLauncher  # SMART launch from the allowlisted EHRs
    model_card_markdown: str = ""
    fhir: FhirComponents | None = None  # FHIR ingest and write-back (None: no FHIR server)
    read_api: AccessTokenVerifier | None = None  # the read API's token check (None: not mounted)


def app_context(request: Request) -> AppContext:
    """The context of the app serving ``request`` (a FastAPI dependency)."""
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(app_context)]
