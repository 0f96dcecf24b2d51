"""Fixtures of the DICOM listener tests: a listener on a free port, films, a fake model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dicom_listener.config import ListenerConfig
from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.server import RunningListener, start_listener
from model.schemas import FilmEmbedding

PATIENT_SYSTEM = "urn:oid:2.16.840.1.113883.4.1.999.1"
AE_TITLE = "CDSLISTENER"


class StatsModel:
    """A RiskModel stand-in whose 'embedding' is simple image statistics (for fast tests)."""

    model_id = "stats"
    model_version = "1"
    film_size = 64
    lookback_h = 48
    film_max_age_h = 72.0

    def predict(self, window: object) -> object:
        raise NotImplementedError("not used by the listener")

    def embed_film(self, pixels: np.ndarray) -> tuple[float, ...]:
        assert pixels.shape == (1, self.film_size, self.film_size)
        return (float(pixels.mean()), float(pixels.std()), float(pixels[0, :, :32].mean()))

    def film_embedding(self, pixels: np.ndarray) -> FilmEmbedding:
        return FilmEmbedding(
            values=self.embed_film(pixels), embedding_model=f"{self.model_id}:{self.model_version}"
        )


def listener_config(spool: Path, **overrides: object) -> ListenerConfig:
    """A loopback listener on a free port."""
    values: dict[str, object] = {
        "ae_title": AE_TITLE,
        "port": 0,
        "spool_dir": spool,
        "default_patient_system": PATIENT_SYSTEM,
        "min_free_bytes": 0,
        "retry_delay_s": 0.2,
        "worker_nice": 0,
    }
    values.update(overrides)
    return ListenerConfig.model_validate(values)


@pytest.fixture
def sink(tmp_path: Path) -> DirectoryFilmSink:
    return DirectoryFilmSink(tmp_path / "out")


@pytest.fixture
def listener(tmp_path: Path, sink: DirectoryFilmSink) -> Iterator[RunningListener]:
    running = start_listener(
        listener_config(tmp_path / "spool"), ModelFilmProcessor(StatsModel()), sink
    )
    try:
        yield running
    finally:
        running.stop()


def require_binary(name: str) -> str:
    """Path of a system binary, or skip the test cleanly."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path
