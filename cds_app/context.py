"""Everything a running app holds, built in the lifespan and hung on ``app.state.ctx``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from cds_app.db.outbox import DbOutbox
from cds_app.db.predictions import PredictionRepository
from cds_app.db.security import CardLog
from cds_app.db.store import Store
from cds_app.engine.rescoring import Rescorer
from cds_app.engine.scorer import RiskEngine
from cds_app.engine.sinks import ScoringFilmSink, ScoringMeasurementSink
from cds_app.hooks.service import CdsService
from cds_app.metrics import Metrics
from cds_app.pages.session import PageSessions
from cds_app.pages.smart import SmartLauncher
from cds_app.security.access_tokens import AccessTokenVerifier
from cds_app.settings import Settings
from model.ports import Pseudonymiser, RiskModel


@dataclass
class AppContext:
    """The composition of one process (no globals: routes reach it via ``request.app.state``)."""

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
    fhir_processor: Any = None  # fhir_adapter NotificationProcessor when a FHIR server is set
    read_api: AccessTokenVerifier | None = None  # the read API's token check (None: not mounted)
    extras: dict[str, Any] = field(default_factory=dict)
