"""The listener: a pynetdicom storage SCP with a durable spool and processing threads."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from functools import partial

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
from pynetdicom.transport import ThreadedAssociationServer

from dicom_listener.claims import ClaimStore, LocalClaims
from dicom_listener.config import ListenerConfig
from dicom_listener.handlers import handle_association, handle_store
from dicom_listener.pipeline import build_film
from dicom_listener.processing import FilmProcessor
from dicom_listener.spool import FileSpool
from dicom_listener.worker import SpoolWorker
from model.ports import FilmSink, Pseudonymiser, redacted_patient

log = logging.getLogger(__name__)

VERIFICATION = UID("1.2.840.10008.1.1")
_TLS_HANDSHAKE_TIMEOUT_S = 10.0

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


class NoDelayAssociationServer(ThreadedAssociationServer):
    """Sets TCP_NODELAY on accepted sockets (DCMTK peers stall ~40 ms per file without it)."""

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        """Accept, disable Nagle, then wrap in TLS when configured."""
        assert self.socket is not None
        client, address = self.socket.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context:
            # bound the handshake: a silent peer must not block the accept loop
            client.settimeout(_TLS_HANDSHAKE_TIMEOUT_S)
            client = self.ssl_context.wrap_socket(client, server_side=True)
            client.setblocking(True)
        return client, address


def build_ae(config: ListenerConfig) -> AE:
    """An AE accepting C-ECHO and CR/DX C-STORE in the supported transfer syntaxes."""
    ae = AE(ae_title=config.ae_title)
    for sop_class in STORAGE_CLASSES:
        ae.add_supported_context(sop_class, TRANSFER_SYNTAXES)
    ae.add_supported_context(VERIFICATION)
    ae.maximum_associations = config.max_associations
    ae.maximum_pdu_size = config.max_pdu
    ae.network_timeout = config.network_timeout_s
    ae.require_called_aet = config.require_called_aet
    if config.allowed_calling_aets:
        ae.require_calling_aet = list(config.allowed_calling_aets)
    return ae


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
    server: ThreadedAssociationServer
    worker: SpoolWorker
    spool: FileSpool

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with port 0)."""
        return int(self.server.server_address[1])

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every spooled instance is processed; False on timeout."""
        return self.worker.wait_idle(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, abort open associations, let the worker finish its current film."""
        if self.server in self.ae._servers:
            self.server.shutdown()
        self.ae.shutdown()
        self.worker.stop(timeout)
        log.info("DICOM listener %s stopped", self.ae.ae_title)


def start_listener(
    config: ListenerConfig,
    processor: FilmProcessor,
    sink: FilmSink,
    *,
    claims: ClaimStore | None = None,
    pseudonymise: Pseudonymiser = redacted_patient,
) -> RunningListener:
    """Resume the spool, start the processing threads, then accept associations.

    ``pseudonymise`` is the app's keyed token for patients in the listener's logs.
    """
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
        build=partial(build_film, config=config, processor=processor),
        threads=config.workers,
        retry_delay_s=config.retry_delay_s,
        nice=config.worker_nice,
        pseudonymise=pseudonymise,
    )
    worker.start()
    ae = build_ae(config)
    handlers: list[EventHandlerType] = [
        (evt.EVT_C_STORE, handle_store, [spool, worker.submit]),
        (evt.EVT_ACCEPTED, handle_association),
        (evt.EVT_REJECTED, handle_association),
    ]
    try:
        server = ae.make_server(
            (config.bind, config.port),
            ssl_context=tls_context(config),
            evt_handlers=handlers,
            server_class=NoDelayAssociationServer,
        )
    except BaseException:
        worker.stop()
        raise
    ae._servers.append(server)
    threading.Thread(target=server.serve_forever, name="dicom-acceptor", daemon=True).start()
    log.info(
        "DICOM listener %s on %s:%d (TLS %s), spool %s",
        config.ae_title,
        config.bind,
        int(server.server_address[1]),
        "on" if config.tls_cert else "off",
        config.spool_dir,
    )
    return RunningListener(ae=ae, server=server, worker=worker, spool=spool)
