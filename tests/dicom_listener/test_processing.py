"""Processors and thumbnails on the real chest film, with the project's own bundled model."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image

from dicom_listener.convert import read_film
from dicom_listener.processing import ModelFilmProcessor, PixelsOnlyProcessor, make_thumbnail
from model.transforms import preprocess_film
from tests.dicom_listener.films import LIMITS, real_film


@pytest.fixture(scope="module")
def rg1_image() -> np.ndarray:
    return read_film(real_film("RG1_UNCR.dcm"), ZoneInfo("UTC"), LIMITS).display_image()


def test_bundled_model_embeds_the_real_film(rg1_image: np.ndarray) -> None:
    predictor_module = pytest.importorskip("model.predictor")
    predictor = predictor_module.Predictor.load()
    processor = ModelFilmProcessor(predictor)
    size = processor.film_size
    assert size == predictor.film_size
    pixels = preprocess_film(rg1_image, size)
    processed = processor.process(pixels)
    assert processed.pixels.shape == (1, size, size)
    assert processed.pixels.dtype == np.float32
    assert processed.embedding is not None
    assert len(processed.embedding) > 0
    assert all(np.isfinite(processed.embedding))
    assert processed.embedding_model == predictor.embedding_id
    # the same film gives the same embedding (deterministic inference)
    assert ModelFilmProcessor(predictor).process(pixels).embedding == processed.embedding


def test_pixels_only_processor_keeps_the_film_and_embeds_nothing(rg1_image: np.ndarray) -> None:
    processor = PixelsOnlyProcessor(96)
    assert processor.film_size == 96
    pixels = preprocess_film(rg1_image, 96)
    processed = processor.process(pixels)
    assert processed.pixels is pixels
    assert processed.embedding is None
    assert processed.embedding_model == ""


def test_thumbnail_is_a_small_png_keeping_the_aspect(rg1_image: np.ndarray) -> None:
    png = make_thumbnail(rg1_image, 256)
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG"
    assert picture.mode == "L"
    assert max(picture.size) == 256
    height, width = rg1_image.shape
    assert abs(picture.size[0] / picture.size[1] - width / height) < 0.02
    assert len(png) < 100_000
