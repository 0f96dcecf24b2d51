"""The listener: a pynetdicom storage SCP with a durable spool and processing threads."""

from __future__ import annotations

import logging
import ssl
import threading
from dataclasses import dataclass

from pydicom.uid import (
    JPEG2000,
    UID,
    ComputedRadiographyImageStorage,
    DeflatedExplicitVRLittleEndian,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, evt
from pynetdicom.events import EventHandlerType

from dicom_listener.activity import ReceiptActivity
from dicom_listener.association_log import AssociationLog
from dicom_listener.builder import FilmBuilder
from dicom_listener.claims import ClaimStore, LocalClaims
from dicom_listener.config import ListenerConfig
from dicom_listener.handlers import handle_store
from dicom_listener.network import ConnectionPolicy, GuardedAssociationServer
from dicom_listener.pdu_guard import GuardLimits
from dicom_listener.processing import FilmProcessor
from dicom_listener.spool import FileSpool
from dicom_listener.stats import ListenerStats
from dicom_listener.worker import SpoolWorker
from model.ports import FilmSink, Pseudonymiser, redacted_patient

log = logging.getLogger(__name__)

VERIFICATION = UID("1.2.840.10008.1.1")

STORAGE_CLASSES = (
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
)
#: every syntax here is decoded by the permissive decoders installed (DESIGN §7). JPEG Extended
#: 12-bit is left out on purpose: only GPL decoders read it, so peers must send another syntax.
TRANSFER_SYNTAXES = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    RLELossless,
    JPEGBaseline8Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
]


def build_ae(config: ListenerConfig) -> AE:
    """An AE accepting C-ECHO and CR/DX C-STORE in the supported transfer syntaxes."""
    ae = AE(ae_title=config.ae_title)
    for sop_class in STORAGE_CLASSES:
        ae.add_supported_context(sop_class, TRANSFER_SYNTAXES)
    ae.add_supported_context(VERIFICATION)
    # The association limits are ours (GuardedAssociationServer, at the A-ASSOCIATE-RQ);
    # pynetdicom's count would include connections still waiting to associate.
    ae.maximum_associations = config.max_associations + waiting_connections(config)
    ae.maximum_pdu_size = config.max_pdu
    ae.acse_timeout = config.acse_timeout_s
    ae.dimse_timeout = config.dimse_timeout_s
    ae.network_timeout = config.network_timeout_s
    ae.require_called_aet = config.require_called_aet
    if config.allowed_calling_aets:
        ae.require_calling_aet = list(config.allowed_calling_aets)
    return ae


def connection_policy(config: ListenerConfig) -> ConnectionPolicy:
    """What each connection may send, and how long it may take (see ``pdu_guard``)."""
    return ConnectionPolicy(
        guard=GuardLimits(
            max_pdu=config.max_pdu,
            max_message_bytes=config.max_dataset_bytes,
            pdu_timeout_s=config.network_timeout_s,
            message_timeout_s=config.dimse_timeout_s,
        ),
        handshake_timeout_s=config.acse_timeout_s,
        max_associations=config.max_associations,
        max_per_peer=config.max_associations_per_peer,
        max_waiting=waiting_connections(config),
    )


def waiting_connections(config: ListenerConfig) -> int:
    """Connections that may wait for their A-ASSOCIATE-RQ at once (oldest closed beyond)."""
    return 2 * config.max_associations


def tls_context(config: ListenerConfig) -> ssl.SSLContext | None:
    """Server TLS context from the configured certificate, key and optional client CA."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=config.tls_cert, keyfile=config.tls_key)
    if config.tls_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=config.tls_ca)
    return context


@dataclass
class RunningListener:
    """A started listener; call :meth:`stop` to shut it down."""

    ae: AE
    server: GuardedAssociationServer
    worker: SpoolWorker
    spool: FileSpool
    stats: ListenerStats

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with port 0)."""
        return int(self.server.server_address[1])

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every spooled instance is processed; False on timeout."""
        return self.worker.wait_idle(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, abort open associations, let the worker finish its current film."""
        self.server.shutdown()
        self.ae.shutdown()  # aborts the associations still open
        self.worker.stop(timeout)
        log.info("DICOM listener %s stopped", self.ae.ae_title)


def start_listener(
    config: ListenerConfig,
    processor: FilmProcessor,
    sink: FilmSink,
    *,
    claims: ClaimStore | None = None,
    stats: ListenerStats | None = None,
    pseudonymise: Pseudonymiser = redacted_patient,
) -> RunningListener:
    """Resume the spool, start the processing threads, then accept associations.

    ``pseudonymise`` is the app's keyed token for patients in the listener's logs.
    """
    stats = stats or ListenerStats()
    activity = ReceiptActivity()
    spool = FileSpool(
        config.spool_dir,
        max_bytes=config.max_spool_bytes,
        min_free_bytes=config.min_free_bytes,
        keep_done_files=config.keep_done_files,
    )
    worker = SpoolWorker(
        spool=spool,
        claims=claims or LocalClaims(),
        sink=sink,
        builder=FilmBuilder(config, processor),
        threads=config.workers,
        retry_delay_s=config.retry_delay_s,
        nice=config.worker_nice,
        pseudonymise=pseudonymise,
        max_attempts=config.max_attempts,
        rescan_interval_s=config.rescan_interval_s,
        stats=stats,
        activity=activity,
        quiet_s=config.processing_quiet_s,
        max_wait_s=config.processing_max_wait_s,
    )
    worker.start()
    ae = build_ae(config)
    associations = AssociationLog(stats)
    handlers: list[EventHandlerType] = [
        (evt.EVT_C_STORE, handle_store, [spool, worker.submit, config.size_limits, associations]),
        *associations.handlers(),
    ]
    try:
        # make_server, not start_server: our server class (guarded sockets, per-peer cap). It is
        # never put in the AE's private _servers list; RunningListener.stop shuts it down.
        server = ae.make_server(  # returns the server_class given
            (config.bind, config.port),
            ssl_context=tls_context(config),
            evt_handlers=handlers,
            server_class=GuardedAssociationServer,
            policy=connection_policy(config),
            stats=stats,
            activity=activity,
        )
    except BaseException:
        worker.stop()
        raise
    assert isinstance(server, GuardedAssociationServer)
    threading.Thread(target=server.serve_forever, name="dicom-acceptor", daemon=True).start()
    log.info(
        "DICOM listener %s on %s:%d (TLS %s), spool %s",
        config.ae_title,
        config.bind,
        int(server.server_address[1]),
        "on" if config.tls_cert else "off",
        config.spool_dir,
    )
    return RunningListener(ae=ae, server=server, worker=worker, spool=spool, stats=stats)
