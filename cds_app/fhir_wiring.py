"""FHIR ingest (notification processor) and the outbox drain, wired on the app's stores.

The outbox drain is built here only, for ``serve`` (a task of the lifespan) and for the
stand-alone ``ventfusion worker`` alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from cds_app.db.fhir_state import DbCursorStore, DbEventNumberStore, DbSeenStore
from cds_app.engine.outbox_worker import Drain
from cds_app.settings import Settings
from fhir_adapter.auth import build_auth
from fhir_adapter.client import FhirClient
from fhir_adapter.codes import load_code_table
from fhir_adapter.identity import PatientResolver
from fhir_adapter.outbox import Outbox
from fhir_adapter.processor import NotificationProcessor
from fhir_adapter.service import IngestServices, build_ingest
from fhir_adapter.writer import RiskAssessmentWriter, drain_outbox
from model.ports import MeasurementSink, PatientSink, Pseudonymiser


@dataclass(frozen=True, slots=True)
class FhirComponents:
    """What a process holds for its EHR's FHIR server; the lifespan closes ``client``."""

    client: FhirClient
    processor: NotificationProcessor  # the notification receiver's re-reads and ingest
    outbox_drain: Drain | None  # write-back in this process (None: disabled or elsewhere)


def fhir_client(settings: Settings) -> FhirClient:
    """The client of the EHR's FHIR server configured in ``settings.fhir``."""
    fhir = settings.fhir
    key = fhir.smart_private_key.read_bytes() if fhir.smart_private_key else b""
    auth = build_auth(
        fhir.auth,
        bearer_token=fhir.bearer_token,
        client_id=fhir.smart_client_id,
        token_url=fhir.smart_token_url,
        private_key_pem=key,
        key_id=fhir.smart_key_id,
        algorithm=fhir.smart_algorithm,
        scope=fhir.smart_scope,
    )
    return FhirClient(fhir.base_url, auth=auth, timeout_s=fhir.timeout_s)


def build_outbox_drain(
    settings: Settings, outbox: Outbox, client: FhirClient, resolver: PatientResolver
) -> Drain:
    """One pass over the due outbox rows (returns how many it settled), as the loop calls it."""
    writer = RiskAssessmentWriter(client, resolver, write_provenance=settings.fhir.write_provenance)

    async def drain() -> int:
        report = await drain_outbox(outbox, writer, limit=settings.worker.batch)
        return report.delivered + report.retried + report.failed

    return drain


def build_db_ingest(
    settings: Settings,
    client: FhirClient,
    *,
    db: Engine,
    sink: MeasurementSink,
    patients: PatientSink,
    pseudonymise: Pseudonymiser,
) -> IngestServices:
    """Ingest from ``client`` into ``sink`` with its state (seen versions, cursors, event
    marks) on the database ``db`` (``serve`` and ``ventfusion fhir-poll``)."""
    return build_ingest(
        client,
        sink,
        mrn_system=settings.mrn_system,
        seen=DbSeenStore(db),
        cursors=DbCursorStore(db),
        codes=load_code_table(settings.fhir.local_codes_file),
        lookback_h=settings.model.lookback_h,
        patients=patients,
        events=DbEventNumberStore(db),
        pseudonymise=pseudonymise,
    )


def build_fhir(
    settings: Settings,
    *,
    db: Engine,
    sink: MeasurementSink,
    patients: PatientSink,
    outbox: Outbox,
    pseudonymise: Pseudonymiser,
) -> FhirComponents:
    """The FHIR client, the notification processor on the DB-backed stores and, when write-back
    runs in this process, the outbox drain."""
    client = fhir_client(settings)
    services = build_db_ingest(
        settings, client, db=db, sink=sink, patients=patients, pseudonymise=pseudonymise
    )
    drain = None
    if settings.fhir.write_back and settings.worker.enabled:
        drain = build_outbox_drain(settings, outbox, client, services.resolver)
    return FhirComponents(client, services.processor, drain)
