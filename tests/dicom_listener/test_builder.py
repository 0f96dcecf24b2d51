"""FilmBuilder: the decoder process prepares, the listener process embeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from dicom_listener.builder import FilmBuilder
from dicom_listener.facts import Rejection
from dicom_listener.processing import ModelFilmProcessor
from model import ModelError
from model.schemas import ChestFilm
from tests.dicom_listener.conftest import StatsModel, listener_config
from tests.dicom_listener.films import make_film


class EmbeddingsOnlyModel(StatsModel):
    """Like a checkpoint trained on precomputed embeddings: it cannot embed pixels."""

    def embed_film(self, pixels: np.ndarray) -> tuple[float, ...]:
        raise ModelError("this model reads precomputed embeddings; it cannot embed pixels")


@pytest.fixture
def builder(tmp_path: Path) -> Iterator[FilmBuilder]:
    built = FilmBuilder(listener_config(tmp_path / "spool"), ModelFilmProcessor(StatsModel()))
    try:
        yield built
    finally:
        built.close()


def test_a_chest_film_comes_back_embedded_here(builder: FilmBuilder, tmp_path: Path) -> None:
    path = make_film(tmp_path / "f.dcm")
    film = builder.build(path)
    assert isinstance(film, ChestFilm)
    assert film.sop_instance_uid == str(dcmread(path).SOPInstanceUID)
    assert film.pixels is not None
    assert film.pixels.shape == (1, 64, 64)
    assert film.embedding is not None
    assert len(film.embedding) == 3
    assert film.embedding_model == "stats:1"
    assert film.source == "dicom"
    assert film.thumbnail_png is not None


def test_a_model_that_cannot_embed_pixels_leaves_the_film_not_scored(tmp_path: Path) -> None:
    config = listener_config(tmp_path / "spool")
    builder = FilmBuilder(config, ModelFilmProcessor(EmbeddingsOnlyModel()))
    try:
        outcome = builder.build(make_film(tmp_path / "f.dcm"))
    finally:
        builder.close()
    assert isinstance(outcome, Rejection)
    assert outcome.reason.startswith("not embedded: this model reads precomputed embeddings")
    assert outcome.patient_key is not None
