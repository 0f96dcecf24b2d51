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
    return ListenerConfig(
        ae_title=dicom.ae_title,
        bind=dicom.bind,
        port=dicom.port if port is None else port,
        allowed_calling_aets=tuple(dicom.allowed_calling_aets),
        max_associations=dicom.max_associations,
        max_pdu=dicom.max_pdu,
        tls_cert=dicom.tls_cert,
        tls_key=dicom.tls_key,
        tls_ca=dicom.tls_ca,
        spool_dir=dicom.spool_dir or settings.data_dir / "spool",
        timezone=settings.timezone,
        default_patient_system=settings.patient_id_system,
    )


def start_dicom(ctx: AppContext) -> RunningListener:
    """Start the C-STORE listener feeding ``ctx.film_sink``."""
    return start_listener(
        listener_config(ctx.settings), ModelFilmProcessor(ctx.model), ctx.film_sink
    )
