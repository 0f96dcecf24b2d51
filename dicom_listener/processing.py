"""What the listener process does with a prepared film: embed it (behind an interface).

Decoding and the shared MONAI preprocessing run in the decoder process; a :class:`FilmProcessor`
receives the preprocessed ``(1, S, S)`` film. This is where an embedding backbone plugs in.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from model.ports import RiskModel


@dataclass(frozen=True)
class ProcessedPixels:
    """What the processor makes of one film."""

    pixels: np.ndarray  # float32 (1, S, S) in [0, 1], through model.transforms
    embedding: tuple[float, ...] | None
    embedding_model: str


@runtime_checkable
class FilmProcessor(Protocol):
    @property
    def film_size(self) -> int:
        """The side ``S`` the decoder process preprocesses films to."""
        ...

    def process(self, pixels: np.ndarray) -> ProcessedPixels:
        """Turn a preprocessed float32 ``(1, S, S)`` film into model inputs (an embedding)."""
        ...


class ModelFilmProcessor:
    """The loaded model's CXR encoder."""

    def __init__(self, model: RiskModel) -> None:
        self._model = model
        default_id = f"{model.model_id}:{model.model_version}"
        self._embedding_model = str(getattr(model, "embedding_id", default_id))

    @property
    def film_size(self) -> int:
        """The model's film size."""
        return int(self._model.film_size)

    def process(self, pixels: np.ndarray) -> ProcessedPixels:
        """Embed a film preprocessed to the model's size."""
        embedding = self._model.embed_film(pixels)
        return ProcessedPixels(pixels, tuple(float(v) for v in embedding), self._embedding_model)


class PixelsOnlyProcessor:
    """No model loaded: the preprocessed film only (the app embeds when it scores)."""

    def __init__(self, size: int) -> None:
        self._size = size

    @property
    def film_size(self) -> int:
        """The configured film side."""
        return self._size

    def process(self, pixels: np.ndarray) -> ProcessedPixels:
        """The film as it is; no embedding."""
        return ProcessedPixels(pixels, None, "")


def make_thumbnail(image: np.ndarray, max_side: int) -> bytes:
    """A small greyscale PNG of a display-ready image, for the risk page."""
    step = max(1, min(image.shape[:2]) // (2 * max_side))  # cheap pre-shrink of 2k films
    grey = np.clip(np.nan_to_num(image[::step, ::step]) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    picture = Image.fromarray(grey)  # 2-D uint8: mode "L"
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)  # speed over a few percent of size
    return buffer.getvalue()
