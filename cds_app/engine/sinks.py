"""Sinks handed to the adapters: store the data, then schedule rescoring."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import numpy as np
from PIL import Image

from cds_app.db.store import Store
from cds_app.engine.rescoring import Rescorer
from model.applicability.film import film_appearance
from model.ports import RiskModel
from model.schemas import ChestFilm, Measurement, PatientKey

log = logging.getLogger(__name__)

THUMBNAIL_SIDE = 256


class ScoringMeasurementSink:
    """``model.ports.MeasurementSink`` on the store that triggers debounced rescoring."""

    def __init__(self, store: Store, rescorer: Rescorer | None) -> None:
        self._store = store
        self._rescorer = rescorer

    def add_measurements(self, measurements: Sequence[Measurement]) -> int:
        """Store new measurements (idempotent on ``source_id``); return how many were new."""
        new = self._store.add_measurements(measurements)
        if new and self._rescorer is not None:
            self._rescorer.schedule({m.patient_key for m in measurements}, "observation")
        return new

    def retract(self, source_ids: Sequence[str]) -> int:
        """Withdraw measurements entered in error and rescore their patients."""
        keys = self._store.patients_of_sources(source_ids)
        count = self._store.retract(source_ids)
        if count and self._rescorer is not None:
            self._rescorer.schedule(keys, "retraction")
        return count


class ScoringFilmSink:
    """``model.ports.FilmSink`` on the store: embeds the film if needed, keeps a thumbnail and the
    appearance statistics the applicability guard compares (pixels themselves are not kept)."""

    def __init__(self, store: Store, model: RiskModel, rescorer: Rescorer | None) -> None:
        self._store = store
        self._model = model
        self._rescorer = rescorer

    def add_film(self, film: ChestFilm) -> bool:
        """Store a processed chest film (idempotent on SOP Instance UID); True if new."""
        thumbnail = film.thumbnail_png
        if thumbnail is None and film.pixels is not None:
            thumbnail = thumbnail_png(film.pixels)
        if film.embedding is None and film.pixels is not None:
            made = self._model.film_embedding(film.pixels)
            film = film.model_copy(
                update={
                    "embedding": made.values,
                    "embedding_model": made.embedding_model,
                    "backbone": made.backbone,
                }
            )
        if film.appearance is None and film.pixels is not None:  # what the film guard compares
            film = film.model_copy(
                update={"appearance": film_appearance(film.pixels, self._model.film_size)}
            )
        stored = film.model_copy(update={"pixels": None, "thumbnail_png": None})
        new = self._store.add_film(stored, thumbnail)
        if new and self._rescorer is not None:
            self._rescorer.schedule([film.patient_key], "film")
        return new

    def record_rejected_film(
        self, sop_instance_uid: str, reason: str, patient_key: PatientKey | None
    ) -> None:
        """Record an instance that is not scored."""
        self._store.record_rejected_film(sop_instance_uid, reason, patient_key)


def thumbnail_png(pixels: np.ndarray, side: int = THUMBNAIL_SIDE) -> bytes:
    """A PNG thumbnail (8-bit grey, longest side ``side``) of a ``(1, H, W)`` film in [0, 1]."""
    array = np.asarray(pixels, dtype=np.float32)
    if array.ndim == 3:
        array = array[0]
    image = Image.fromarray((np.clip(array, 0.0, 1.0) * 255).astype(np.uint8), mode="L")
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
