"""Maps ``settings.dicom`` onto the DICOM listener's own config, starts it on our sink, and
exports its counters to Prometheus."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dicom_listener.config import ListenerConfig
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.server import RunningListener, start_listener
from dicom_listener.stats import COUNTERS

if TYPE_CHECKING:
    from cds_app.context import AppContext
    from cds_app.settings import Settings


def listener_config(settings: Settings, *, port: int | None = None) -> ListenerConfig:
    """The listener configuration of ``settings`` (``port`` overrides, 0 = any free port)."""
    dicom = settings.dicom
    fields = {
        **dicom.listener_fields(),
        "spool_dir": dicom.spool_dir or settings.data_dir / "spool",
        "timezone": settings.timezone,
        "default_patient_system": settings.patient_id_system,
    }
    if port is not None:
        fields["port"] = port
    return ListenerConfig.model_validate(fields)


class ListenerCollector(Collector):
    """``ventfusion_dicom_*``: the listener's counters, and what its spool holds now."""

    def __init__(self, listener: RunningListener) -> None:
        self._listener = listener

    def collect(self) -> Iterator[Metric]:
        """Read at every scrape."""
        snapshot = self._listener.stats.snapshot()
        for name, (description, label) in COUNTERS.items():
            family = CounterMetricFamily(
                f"ventfusion_dicom_{name}", description, labels=[label] if label else None
            )
            for (counted, value_label), value in sorted(snapshot.items()):
                if counted == name:
                    family.add_metric([value_label] if label else [], value)
            if not label and (name, "") not in snapshot:
                family.add_metric([], 0)
            yield family
        spool = self._listener.spool
        yield GaugeMetricFamily(
            "ventfusion_dicom_spool_pending",
            "Acknowledged instances waiting to be processed",
            value=len(spool.pending_uids()),
        )
        yield GaugeMetricFamily(
            "ventfusion_dicom_quarantine_instances",
            "Instances in quarantine/ (ventfusion dicom-quarantine list)",
            value=len(spool.quarantine.entries()),
        )


def start_dicom(ctx: AppContext) -> RunningListener:
    """Start the C-STORE listener feeding ``ctx.film_sink``; its metrics join ``ctx.metrics``.

    On PostgreSQL the spool claims live in the database, so several listener processes can
    share one spool volume; on SQLite they stay in-process.
    """
    claims = None
    if ctx.db.dialect.name == "postgresql":
        from cds_app.scaleout.pg_spool_claims import PgSpoolClaims

        claims = PgSpoolClaims(ctx.db)
    listener = start_listener(
        listener_config(ctx.settings),
        ModelFilmProcessor(ctx.model),
        ctx.film_sink,
        claims=claims,
        pseudonymise=ctx.pseudonymise,
    )
    ctx.metrics.registry.register(ListenerCollector(listener))
    return listener
