"""Render a FilmSpec into stored DICOM-style pixel values (uint16, MONOCHROME1 or 2)."""

from __future__ import annotations

import numpy as np

from model.synth.anatomy import Anatomy, build_anatomy
from model.synth.films import N_PATTERNS, FilmSpec


def geometry_shape(size: int, geometry: int) -> tuple[int, int]:
    """Matrix (rows, cols) of a geometry: 0 square, 1 portrait, 2 landscape."""
    longer = round(size * 1.2 / 8.0) * 8
    return ((size, size), (longer, size), (size, longer))[geometry]


class FilmRenderer:
    """Renders films for one nominal size; caches anatomy templates per geometry and habitus."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._cache: dict[tuple[int, str], Anatomy] = {}

    def anatomy(self, geometry: int, habitus: str) -> Anatomy:
        """The (cached) template of a geometry and habitus."""
        key = (geometry, habitus)
        if key not in self._cache:
            rows, cols = geometry_shape(self.size, geometry)
            self._cache[key] = build_anatomy(rows, cols, habitus, N_PATTERNS)
        return self._cache[key]

    def attenuation(self, spec: FilmSpec) -> np.ndarray:
        """Float32 attenuation map of one film (0 air .. ~1.5 dense), before the detector."""
        anat = self.anatomy(spec.geometry, spec.habitus)
        image = anat.base.copy()
        sub = image[anat.box]
        lung = anat.lung
        c = spec.consolidation
        if c > 0.005:
            q = anat.patterns[spec.pattern % N_PATTERNS]
            extent = np.clip((c - q) / 0.3 + 0.5, 0.0, 1.0)
            sub += (0.5 * extent * anat.mottle + 0.12 * c) * lung
        if spec.edema > 0.01:
            sub += (0.6 * spec.edema) * anat.perihilar * lung
        if spec.effusion > 0.01:
            level = 0.5 * spec.effusion
            fluid = np.clip((level - anat.base_height) / 0.05 + 0.5, 0.0, 1.0)
            sub += 0.4 * fluid * np.minimum(lung * 1.4, 1.0)
        if spec.tube:
            image += anat.tube
        dy, dx = spec.shift
        if dy or dx:
            image = _shifted(image, dy * image.shape[0] // 100, dx * image.shape[1] // 100)
        return image

    def render(self, spec: FilmSpec) -> np.ndarray:
        """Stored pixel values (uint16) in ``spec.bits_stored`` bits, photometric applied."""
        image = self.attenuation(spec)
        rng = np.random.default_rng(spec.seed)
        rows = image.shape[0]
        heel = np.linspace(-0.03, 0.03, rows, dtype=np.float32)[:, None]
        signal = (image * (0.62 * spec.gain) + (0.08 + spec.offset)) + heel
        signal += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(spec.noise)
        top = float(2**spec.bits_stored - 1)
        stored = np.clip(signal, 0.0, 1.0) * top
        if spec.photometric == "MONOCHROME1":
            stored = top - stored
        return np.rint(stored).astype(np.uint16)


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate by whole pixels, repeating the edge (patient positioning on the detector)."""
    pad = max(abs(dy), abs(dx))
    padded = np.pad(image, pad, mode="edge")
    rows, cols = image.shape
    return padded[pad - dy : pad - dy + rows, pad - dx : pad - dx + cols]


def to_display(stored: np.ndarray, photometric: str, bits_stored: int) -> np.ndarray:
    """Stored values -> float32 in [0, 1] with higher = denser (MONOCHROME2 convention)."""
    top = float(2**bits_stored - 1)
    x = stored.astype(np.float32) / np.float32(top)
    return (1.0 - x) if photometric == "MONOCHROME1" else x
