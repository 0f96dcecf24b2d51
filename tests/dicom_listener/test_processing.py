"""Processors and thumbnails on the real chest film, with the project's own bundled model."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image

from dicom_listener.convert import read_film
from dicom_listener.processing import ModelFilmProcessor, PixelsOnlyProcessor, make_thumbnail
from tests.dicom_listener.films import real_film


@pytest.fixture(scope="module")
def rg1_image() -> np.ndarray:
    return read_film(real_film("RG1_UNCR.dcm"), ZoneInfo("UTC")).display_image()


def test_bundled_model_embeds_the_real_film(rg1_image: np.ndarray) -> None:
    predictor_module = pytest.importorskip("model.predictor")
    predictor = predictor_module.Predictor.load()
    processed = ModelFilmProcessor(predictor).process(rg1_image)
    size = predictor.film_size
    assert processed.pixels.shape == (1, size, size)
    assert processed.pixels.dtype == np.float32
    assert processed.embedding is not None
    assert len(processed.embedding) > 0
    assert all(np.isfinite(processed.embedding))
    assert processed.embedding_model == predictor.embedding_id
    # the same film gives the same embedding (deterministic inference)
    assert ModelFilmProcessor(predictor).process(rg1_image).embedding == processed.embedding


def test_pixels_only_processor(rg1_image: np.ndarray) -> None:
    processed = PixelsOnlyProcessor(96).process(rg1_image)
    assert processed.pixels.shape == (1, 96, 96)
    assert processed.embedding is None
    assert float(processed.pixels.min()) >= 0.0
    assert float(processed.pixels.max()) <= 1.0


def test_thumbnail_is_a_small_png_keeping_the_aspect(rg1_image: np.ndarray) -> None:
    png = make_thumbnail(rg1_image, 256)
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG"
    assert picture.mode == "L"
    assert max(picture.size) == 256
    height, width = rg1_image.shape
    assert abs(picture.size[0] / picture.size[1] - width / height) < 0.02
    assert len(png) < 100_000
