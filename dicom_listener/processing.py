"""What the listener process does with a prepared film: embed it (behind an interface).

Decoding and the shared MONAI preprocessing run in the decoder process; a :class:`FilmProcessor`
receives the preprocessed ``(1, S, S)`` film and embeds it in the listener process's worker
thread (never on an association thread). With a model trained on a site's film backbone
(``model.backbone``), the model's ``film_size`` is the backbone's input size and the embedding is
the backbone's, returned with its identity so the film is stored with it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from model.ports import RiskModel
from model.schemas import BackboneIdentity


@dataclass(frozen=True)
class ProcessedPixels:
    """What the processor makes of one film."""

    pixels: np.ndarray  # float32 (1, S, S) in [0, 1], through model.transforms
    embedding: tuple[float, ...] | None
    embedding_model: str
    backbone: BackboneIdentity | None = None  # the film backbone that made the embedding


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
    """The loaded model's CXR encoder, or the film backbone it was trained on."""

    def __init__(self, model: RiskModel) -> None:
        self._model = model

    @property
    def film_size(self) -> int:
        """The model's film size."""
        return int(self._model.film_size)

    def process(self, pixels: np.ndarray) -> ProcessedPixels:
        """Embed a film preprocessed to the model's size (a ``ModelError`` when it cannot)."""
        made = self._model.film_embedding(pixels)
        return ProcessedPixels(pixels, made.values, made.embedding_model, made.backbone)


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
