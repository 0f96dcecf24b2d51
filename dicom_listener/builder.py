"""Spooled file -> ChestFilm: the decoder process prepares it, this process embeds it.

Each processing thread has its own :class:`~dicom_listener.decoder.DecoderProcess`. What comes
back is small (the preprocessed ``(1, S, S)`` film and a PNG thumbnail); the embedding runs here,
with the model already loaded — the place where a film backbone plugs in (``FilmProcessor``).
"""

from __future__ import annotations

import threading
from pathlib import Path

from dicom_listener.config import ListenerConfig
from dicom_listener.decoder import DecoderJob, DecoderLimits, DecoderProcess
from dicom_listener.facts import SOURCE, PreparedFilm, Rejection
from dicom_listener.processing import FilmProcessor
from model import ModelError
from model.schemas import ChestFilm


def decoder_limits(config: ListenerConfig) -> DecoderLimits:
    """The decoder confinement configured for the listener."""
    return DecoderLimits(
        memory_bytes=config.decoder_memory_bytes,
        timeout_s=config.decoder_timeout_s,
        max_jobs=config.decoder_max_jobs,
        nice=config.worker_nice,
    )


class FilmBuilder:
    """Builds films for the spool worker; thread-safe (one decoder process per thread)."""

    def __init__(self, config: ListenerConfig, processor: FilmProcessor) -> None:
        self._job = DecoderJob(config=config, film_size=processor.film_size)
        self._limits = decoder_limits(config)
        self._processor = processor
        self._local = threading.local()
        self._decoders: list[DecoderProcess] = []
        self._lock = threading.Lock()

    def _decoder(self) -> DecoderProcess:
        decoder: DecoderProcess | None = getattr(self._local, "decoder", None)
        if decoder is None:
            decoder = DecoderProcess(self._job, self._limits)
            self._local.decoder = decoder
            with self._lock:
                self._decoders.append(decoder)
        return decoder

    def warm_up(self) -> None:
        """Start this thread's decoder process (processing threads call it first)."""
        self._decoder().warm_up()

    def build(self, path: Path) -> ChestFilm | Rejection:
        """Prepare in the decoder process, then embed; raises ``DecoderError``."""
        outcome = self._decoder().run(path)
        if isinstance(outcome, Rejection):
            return outcome
        return self.embed(outcome)

    def embed(self, prepared: PreparedFilm) -> ChestFilm | Rejection:
        """The prepared film through the processor (the model's CXR encoder, or none).

        A ``ModelError`` says this model cannot use the film (e.g. it reads precomputed
        embeddings only): not scored, with that reason. Anything else propagates (a failure).
        """
        try:
            processed = self._processor.process(prepared.pixels)
        except ModelError as exc:
            return Rejection(f"not embedded: {exc}", prepared.patient_key)
        return ChestFilm(
            patient_key=prepared.patient_key,
            acquired_at=prepared.acquired_at,
            sop_instance_uid=prepared.sop_instance_uid,
            study_instance_uid=prepared.study_instance_uid,
            view=prepared.view,
            pixels=processed.pixels,
            embedding=processed.embedding,
            embedding_model=processed.embedding_model,
            backbone=processed.backbone,
            source=SOURCE,
            thumbnail_png=prepared.thumbnail_png,
        )

    def close(self) -> None:
        """Stop every decoder process."""
        with self._lock:
            decoders, self._decoders = self._decoders, []
        for decoder in decoders:
            decoder.close()
