"""Standalone listener: ``python -m dicom_listener`` (pynetdicom-app style ``main(argv)``).

Films go to a :class:`DirectoryFilmSink`; ``ventfusion dicom-listen`` runs the same listener with
the application's database sink instead.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from dicom_listener.config import MIB, ListenerConfig
from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.processing import FilmProcessor, ModelFilmProcessor, PixelsOnlyProcessor
from dicom_listener.server import RunningListener, start_listener
from model import ModelError
from model.ports import FilmSink, Pseudonymiser, redacted_patient

log = logging.getLogger(__name__)


def _setup_argparser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dicom_listener",
        description="VentFusion DICOM C-STORE listener (chest films) with a directory sink.",
    )
    parser.add_argument("--spool", type=Path, required=True, help="spool directory")
    parser.add_argument("--out", type=Path, required=True, help="directory for processed films")
    parser.add_argument("--ae-title", default="VENTFUSION")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11112)
    parser.add_argument("--allowed-aet", action="append", default=[], help="repeatable")
    parser.add_argument("--max-associations", type=int, default=10)
    parser.add_argument("--max-associations-per-peer", type=int, default=5, help="0: no cap")
    parser.add_argument("--max-pdu", type=int, default=131072)
    parser.add_argument("--acse-timeout", type=float, default=10.0, help="seconds")
    parser.add_argument("--network-timeout", type=float, default=30.0, help="seconds")
    parser.add_argument("--dimse-timeout", type=float, default=300.0, help="seconds")
    parser.add_argument("--max-spool-bytes", type=int, default=0)
    parser.add_argument("--max-decoded-bytes", type=int, default=128 * MIB)
    parser.add_argument("--max-dataset-bytes", type=int, default=160 * MIB)
    parser.add_argument("--decoder-memory-bytes", type=int, default=3072 * MIB, help="0: no cap")
    parser.add_argument("--decoder-timeout", type=float, default=120.0, help="seconds per film")
    parser.add_argument("--max-attempts", type=int, default=3, help="before quarantine")
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--tls-ca", type=Path)
    parser.add_argument("--timezone", default="UTC")
    parser.add_argument("--patient-system", default="urn:oid:2.16.840.1.113883.4.1.999.1")
    parser.add_argument(
        "--issuer-system", action="append", default=[], metavar="ISSUER=SYSTEM", help="repeatable"
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--worker-nice", type=int, default=5, help="0: same priority as ingest")
    parser.add_argument(
        "--processing-quiet",
        type=float,
        default=0.05,
        help="seconds without received data before a film is processed (0: at once)",
    )
    parser.add_argument(
        "--processing-max-wait", type=float, default=2.0, help="at most this long per film"
    )
    parser.add_argument(
        "--model",
        default="bundled",
        help="checkpoint path, 'bundled', or 'none' (pixels only, no embedding)",
    )
    parser.add_argument(
        "--backbone",
        type=Path,
        help="manifest of the film backbone the checkpoint was trained on (docs/model.md)",
    )
    parser.add_argument("--film-size", type=int, default=224, help="with --model none")
    parser.add_argument("--log-level", default="INFO")
    return parser


def _processor(model: str, film_size: int, backbone_manifest: Path | None) -> FilmProcessor:
    if model == "none":
        return PixelsOnlyProcessor(film_size)
    from model.predictor import Predictor  # heavy import only when a model is wanted

    backbone = None
    if backbone_manifest is not None:
        from model.backbone.runtime import Backbone

        backbone = Backbone.load(backbone_manifest)
    path = None if model == "bundled" else Path(model)
    return ModelFilmProcessor(Predictor.load(path, backbone=backbone))


def config_from_args(args: argparse.Namespace) -> ListenerConfig:
    """Build the listener configuration from parsed arguments."""
    issuers = dict(item.split("=", 1) for item in args.issuer_system)
    return ListenerConfig(
        ae_title=args.ae_title,
        bind=args.bind,
        port=args.port,
        allowed_calling_aets=tuple(args.allowed_aet),
        max_associations=args.max_associations,
        max_associations_per_peer=args.max_associations_per_peer,
        max_pdu=args.max_pdu,
        acse_timeout_s=args.acse_timeout,
        network_timeout_s=args.network_timeout,
        dimse_timeout_s=args.dimse_timeout,
        max_spool_bytes=args.max_spool_bytes,
        max_decoded_bytes=args.max_decoded_bytes,
        max_dataset_bytes=args.max_dataset_bytes,
        decoder_memory_bytes=args.decoder_memory_bytes,
        decoder_timeout_s=args.decoder_timeout,
        max_attempts=args.max_attempts,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_ca=args.tls_ca,
        spool_dir=args.spool,
        timezone=args.timezone,
        default_patient_system=args.patient_system,
        issuer_systems=issuers,
        workers=args.workers,
        worker_nice=args.worker_nice,
        processing_quiet_s=args.processing_quiet,
        processing_max_wait_s=args.processing_max_wait,
    )


def serve_until_signalled(
    config: ListenerConfig,
    processor: FilmProcessor,
    sink: FilmSink,
    *,
    pseudonymise: Pseudonymiser = redacted_patient,
    on_started: Callable[[RunningListener], object] | None = None,
) -> None:
    """Run the listener until SIGINT/SIGTERM, then stop it cleanly."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    listener = start_listener(config, processor, sink, pseudonymise=pseudonymise)
    if on_started is not None:
        on_started(listener)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        listener.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m dicom_listener``."""
    args = _setup_argparser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = config_from_args(args)
    try:
        processor = _processor(args.model, args.film_size, args.backbone)
    except ModelError as exc:  # a missing checkpoint, a backbone that is not the model's
        log.error("cannot load the model: %s", exc)
        return 2
    serve_until_signalled(config, processor, DirectoryFilmSink(args.out))
    return 0
