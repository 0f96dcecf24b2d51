"""Film processing behind an interface: display-ready image -> model tensor + embedding."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from model.ports import RiskModel
from model.transforms import preprocess_film


@dataclass(frozen=True)
class ProcessedPixels:
    """What the processor makes of one film."""

    pixels: np.ndarray  # float32 (1, S, S) in [0, 1], through model.transforms
    embedding: tuple[float, ...] | None
    embedding_model: str


@runtime_checkable
class FilmProcessor(Protocol):
    def process(self, image: np.ndarray) -> ProcessedPixels:
        """Turn a display-ready 2-D image (higher = brighter, [0, 1]) into model inputs."""
        ...


class ModelFilmProcessor:
    """The shared MONAI transforms, then the loaded model's CXR encoder."""

    def __init__(self, model: RiskModel) -> None:
        self._model = model
        default_id = f"{model.model_id}:{model.model_version}"
        self._embedding_model = str(getattr(model, "embedding_id", default_id))

    def process(self, image: np.ndarray) -> ProcessedPixels:
        """Preprocess to the model's film size and embed."""
        pixels = preprocess_film(image, self._model.film_size)
        embedding = self._model.embed_film(pixels)
        return ProcessedPixels(pixels, tuple(float(v) for v in embedding), self._embedding_model)


class PixelsOnlyProcessor:
    """The shared transforms only (no model loaded): the app embeds when it scores."""

    def __init__(self, size: int) -> None:
        self._size = size

    def process(self, image: np.ndarray) -> ProcessedPixels:
        """Preprocess to ``size``; no embedding."""
        return ProcessedPixels(preprocess_film(image, self._size), None, "")


def make_thumbnail(image: np.ndarray, max_side: int) -> bytes:
    """A small greyscale PNG of a display-ready image, for the risk page."""
    step = max(1, min(image.shape[:2]) // (2 * max_side))  # cheap pre-shrink of 2k films
    grey = np.clip(np.nan_to_num(image[::step, ::step]) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    picture = Image.fromarray(grey)  # 2-D uint8: mode "L"
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)  # speed over a few percent of size
    return buffer.getvalue()
