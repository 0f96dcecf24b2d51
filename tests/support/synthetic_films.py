"""Chest films rendered by the project's simulator (``model.synth``): the kind of film the bundled
model was trained on, so its applicability guard uses them (generated radiographs of other
shapes are, rightly, refused)."""

from __future__ import annotations

import numpy as np

from model.synth.films import FilmSpec
from model.synth.render import FilmRenderer, to_display


def simulator_film(
    size: int = 256,
    *,
    seed: int = 0,
    consolidation: float = 0.1,
    photometric: str = "MONOCHROME2",
    bits: int = 12,
) -> np.ndarray:
    """Stored pixel values (uint16, ``bits`` bits, ``photometric``) of one simulator film."""
    spec = FilmSpec(
        hour=1.0,
        consolidation=consolidation,
        edema=0.0,
        effusion=0.0,
        tube=False,
        habitus="normal",
        pattern=seed % 8,
        geometry=0,
        photometric=photometric,
        bits_stored=bits,
        gain=1.0,
        offset=0.0,
        noise=0.015,
        shift=(0, 0),
        seed=seed,
    )
    return FilmRenderer(size).render(spec)


def simulator_display(size: int = 256, **kwargs: object) -> np.ndarray:
    """The same film display-ready (float32 in [0, 1], higher = brighter)."""
    photometric = str(kwargs.get("photometric", "MONOCHROME2"))
    bits = int(kwargs.get("bits", 12))  # type: ignore[call-overload]
    return to_display(simulator_film(size, **kwargs), photometric, bits)  # type: ignore[arg-type]
