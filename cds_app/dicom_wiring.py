"""Maps ``settings.dicom`` onto the DICOM listener's own config and starts it on our sink."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dicom_listener.config import ListenerConfig
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.server import RunningListener, start_listener

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


def start_dicom(ctx: AppContext) -> RunningListener:
    """Start the C-STORE listener feeding ``ctx.film_sink``.

    On PostgreSQL the spool claims live in the database, so several listener processes can
    share one spool volume; on SQLite they stay in-process.
    """
    claims = None
    if ctx.db.dialect.name == "postgresql":
        from cds_app.scaleout.pg_spool_claims import PgSpoolClaims

        claims = PgSpoolClaims(ctx.db)
    return start_listener(
        listener_config(ctx.settings),
        ModelFilmProcessor(ctx.model),
        ctx.film_sink,
        claims=claims,
        pseudonymise=ctx.pseudonymise,
    )
