"""Prospective monitoring of the deployed model: recorded predictions vs ventilation starts.

Predictions come from the ``predictions`` table (shadow-mode ones included); ventilation starts
are read back from the EHR's Procedures (``fhir_adapter.outcomes``). The arithmetic is pure and
lives in ``model.monitoring``; this module gathers the inputs and exports the result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cds_app.db.tables import PatientRow, PredictionRow
from fhir_adapter.client import FhirClient
from fhir_adapter.identity import PatientResolver
from fhir_adapter.outcomes import ventilation_starts
from fhir_adapter.procedure_mapping import VentilationCodes
from model.monitoring import MonitoringReport, PastPrediction
from model.schemas import PatientKey

log = logging.getLogger(__name__)


def recorded_predictions(
    engine: Engine, since: datetime, model_version: str | None = None
) -> list[PastPrediction]:
    """Predictions made at or after ``since`` (optionally of one model version), oldest first."""
    with Session(engine) as session:
        query = select(PredictionRow).where(col(PredictionRow.as_of) >= since)
        if model_version:
            query = query.where(PredictionRow.model_version == model_version)
        rows = session.exec(query.order_by(col(PredictionRow.as_of))).all()
        return [PastPrediction(r.patient_key, r.as_of, r.probability) for r in rows]


def known_fhir_ids(engine: Engine, patient_keys: Sequence[str]) -> dict[str, str]:
    """``patient_key -> FHIR Patient id`` for the patients the app has already linked."""
    with Session(engine) as session:
        rows = session.exec(
            select(PatientRow).where(col(PatientRow.patient_key).in_(list(patient_keys)))
        ).all()
        return {r.patient_key: r.fhir_id for r in rows if r.fhir_id}


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Ventilation starts per stored patient key; ``unknown``: patients the EHR did not return."""

    starts: dict[str, list[datetime]]
    unknown: frozenset[str]


async def recorded_ventilation_starts(
    client: FhirClient,
    patient_keys: Sequence[str],
    fhir_ids: dict[str, str],
    resolver: PatientResolver,
    codes: VentilationCodes,
) -> Outcomes:
    """Ventilation starts of each patient, read from the EHR's Procedures.

    A patient the EHR cannot find has an *unknown* outcome (not "never ventilated"): the caller
    must leave their predictions out.
    """
    starts: dict[str, list[datetime]] = {}
    unknown: set[str] = set()
    for stored in patient_keys:
        key = PatientKey.parse(stored)
        ref = f"Patient/{fhir_ids[stored]}" if stored in fhir_ids else await resolver.ref_for(key)
        if ref is None:
            log.warning("monitoring: %s not found in the EHR; left out", resolver.pseudonymise(key))
            unknown.add(stored)
            continue
        events = await ventilation_starts(client, ref, codes)
        if events:
            starts[stored] = [event.start for event in events]
    return Outcomes(starts, frozenset(unknown))


def write_prometheus(report: MonitoringReport, path: Path) -> None:
    """Write the report as Prometheus gauges (node-exporter textfile collector format)."""
    registry = CollectorRegistry()
    latest = report.latest
    Gauge(
        "ventfusion_monitor_auroc",
        "AUROC of the latest judged monitoring window (NaN: not enough outcomes yet)",
        registry=registry,
    ).set(float("nan") if latest is None or latest.auroc is None else latest.auroc)
    Gauge("ventfusion_monitor_auroc_floor", "Configured AUROC floor", registry=registry).set(
        report.floor
    )
    Gauge(
        "ventfusion_monitor_alert", "1 when the latest AUROC is under the floor", registry=registry
    ).set(1.0 if report.alert else 0.0)
    Gauge("ventfusion_monitor_labelled", "Predictions with a known outcome", registry=registry).set(
        report.labelled
    )
    Gauge(
        "ventfusion_monitor_pending", "Predictions whose horizon is still open", registry=registry
    ).set(report.pending)
    write_to_textfile(str(path), registry)
