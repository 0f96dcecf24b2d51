"""Wiring of the ingest pieces from plain arguments (the app calls this in its lifespan)."""

from __future__ import annotations

from dataclasses import dataclass

from fhir_adapter.client import FhirClient
from fhir_adapter.codes import CodeTable
from fhir_adapter.identity import PatientResolver
from fhir_adapter.ingest import ObservationIngestor
from fhir_adapter.ingest_state import CursorStore, EventNumberStore, SeenStore
from fhir_adapter.poller import Backfiller, ObservationPoller
from fhir_adapter.processor import NotificationProcessor
from model.ports import MeasurementSink, PatientSink, Pseudonymiser, redacted_patient


@dataclass(frozen=True, slots=True)
class IngestServices:
    """Everything that reads Observations from one FHIR server into one sink."""

    client: FhirClient
    resolver: PatientResolver
    ingestor: ObservationIngestor
    poller: ObservationPoller
    backfiller: Backfiller
    processor: NotificationProcessor


def build_ingest(
    client: FhirClient,
    sink: MeasurementSink,
    *,
    mrn_system: str,
    seen: SeenStore,
    cursors: CursorStore,
    codes: CodeTable | None = None,
    lookback_h: float = 48.0,
    backfill: bool = True,
    patients: PatientSink | None = None,
    events: EventNumberStore | None = None,
    pseudonymise: Pseudonymiser = redacted_patient,
) -> IngestServices:
    """Build resolver, ingestor, poller, backfiller and notification processor sharing state.

    ``patients`` receives the FHIR id, age and sex of every Patient the resolver reads;
    ``events`` keeps notification event numbers (in memory when None); ``pseudonymise`` gives
    the keyed token under which a patient appears in the adapter's logs.
    """
    resolver = PatientResolver(client, mrn_system, patients, pseudonymise=pseudonymise)
    backfiller = Backfiller(client, cursors, lookback_h=lookback_h)
    ingestor = ObservationIngestor(
        sink, resolver, seen, codes, on_new_patient=backfiller if backfill else None
    )
    backfiller.ingestor = ingestor
    poller = ObservationPoller(client, ingestor, cursors, lookback_h=lookback_h)
    processor = NotificationProcessor(client, ingestor, poller, seen, events=events)
    return IngestServices(client, resolver, ingestor, poller, backfiller, processor)
