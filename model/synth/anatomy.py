"""Precomputed anatomy of a portable AP chest film for one matrix size and body habitus.

Everything is an attenuation map (0 = air) on physical coordinates ``gx`` (patient's right on the
viewer's left, -1..1 across the shorter image side) and ``gy`` (top -1, down +1). Pathology maps
are kept only inside the lung bounding box, where they are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

HABITUS = ("normal", "copd", "cardiomegaly")


@dataclass(frozen=True, slots=True)
class Anatomy:
    """Fixed layers of one (rows, cols, habitus) geometry, float32."""

    base: np.ndarray  # attenuation of body, bones, heart, abdomen (full image)
    box: tuple[slice, slice]  # lung bounding box
    lung: np.ndarray  # lung mask in the box, 0..1
    patterns: np.ndarray  # (K, h, w) rank of each pixel within the lungs, 0..1 (1 outside)
    mottle: np.ndarray  # fine texture in the box, 0.75..1
    perihilar: np.ndarray  # bat-wing edema weight in the box, 0..1
    base_height: np.ndarray  # distance above the lung base in the box (meniscus-adjusted)
    tube: np.ndarray  # endotracheal tube attenuation (full image)


def _sig(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))
    return out


def _lung_geometry(habitus: str) -> tuple[float, float, float, float]:
    """(apex gy, base gy, dome depth, half width)."""
    if habitus == "copd":
        return -0.8, 0.62, 0.03, 0.34
    return -0.72, 0.46, 0.12, 0.3


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    coarse = rng.standard_normal((cells, cells))
    field = ndimage.zoom(coarse, (shape[0] / cells, shape[1] / cells), order=3)
    out = np.zeros(shape)
    h, w = min(shape[0], field.shape[0]), min(shape[1], field.shape[1])
    out[:h, :w] = field[:h, :w]
    return out


def build_anatomy(rows: int, cols: int, habitus: str, n_patterns: int) -> Anatomy:
    """Build the layers of one geometry (deterministic: fixed seeds per geometry)."""
    scale = min(rows, cols) / 2.0
    gy, gx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    gx = (gx - cols / 2.0) / scale
    gy = (gy - rows / 2.0) / scale
    soft = 2.0 / scale * 1.5  # edge softness, ~1.5 px

    half = 0.3 + 0.62 * _sig((gy + 0.75) / 0.05)
    body = 0.32 * np.sqrt(np.clip(1.0 - (gx / half) ** 2, 0.0, 1.0))
    apex, base_y, dome, rx = _lung_geometry(habitus)
    lungs = np.zeros_like(gx)
    base_height = np.full_like(gx, 9.0)
    diaphragm = np.full_like(gx, 9.0)
    for cx, drop in ((-0.38, 0.0), (0.38, 0.03)):
        rel = (gx - cx) / rx
        y_base = base_y + drop + dome * rel**2
        width = rx * np.clip((gy - apex) / 0.6, 0.0, 1.0) ** 0.5 * (1.02 - 0.08 * np.clip(gy, 0, 1))
        side = _sig((width - np.abs(gx - cx)) / soft) * _sig((y_base - gy) / soft)
        side *= _sig((np.abs(gx) - 0.1) / soft) * _sig((gy - apex) / soft)
        lungs = np.maximum(lungs, side)
        height = (y_base - gy) - 0.12 * np.abs(rel)
        near = np.abs(gx - cx) < rx * 1.1
        base_height = np.where(near, np.minimum(base_height, height), base_height)
        diaphragm = np.where((gx < 0) == (cx < 0), np.minimum(y_base, base_y + 0.2), diaphragm)
    hx, hy = (0.4, 0.28) if habitus == "cardiomegaly" else (0.29, 0.23)
    heart = _sig((1.0 - ((gx - 0.12) / hx) ** 2 - ((gy - 0.2) / hy) ** 2) / 0.08)
    heart *= _sig((diaphragm + 0.05 - gy) / soft)
    lungs *= 1.0 - 0.9 * heart
    mediastinum = _sig((0.11 - np.abs(gx)) / soft) * _sig((diaphragm - gy) / soft)
    spine = _sig((0.055 - np.abs(gx)) / soft)
    abdomen = _sig((gy - diaphragm) / soft) * (body > 0)

    bones = np.zeros_like(gx)
    lateral = np.clip(np.abs(gx) - 0.08, 0, None)
    for k in range(10):
        curve = -0.7 + k * 0.125 - 0.55 * lateral + 0.75 * lateral**2
        band = np.exp(-(((gy - curve) / 0.024) ** 2)) * ((np.abs(gx) > 0.08) & (np.abs(gx) < 0.84))
        bones += 0.065 * band * _sig((base_y + 0.15 - gy) / 0.05)
    for sign in (-1.0, 1.0):
        t = np.clip((sign * gx - 0.1) / 0.5, 0.0, 1.0)
        curve = -0.74 - 0.08 * t
        bones += (
            0.16
            * np.exp(-(((gy - curve) / 0.025) ** 2))
            * ((sign * gx > 0.08) & (sign * gx < 0.62))
        )
    base = body * (1.0 - 0.65 * lungs) + 0.13 * heart + 0.18 * mediastinum + 0.12 * spine
    base += 0.22 * abdomen + bones * (body > 0.02)

    tube_x = 0.01 * np.sin(gy * 3.0)
    tube = 0.45 * np.exp(-(((gx - tube_x) / 0.012) ** 2)) * (gy < -0.28)

    ys, xs = np.nonzero(lungs > 0.05)
    box = (slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1))
    lung_b, xb, yb = lungs[box], gx[box], gy[box]
    rng = np.random.default_rng([rows, cols, HABITUS.index(habitus), 7919])
    inside = lung_b > 0.5
    patterns = np.ones((n_patterns, *lung_b.shape), dtype=np.float32)
    for k in range(n_patterns):
        lateral = (0.0, 0.0, 0.0, 0.0, 1.2, 1.2, -1.2, -1.2)[k % 8]
        field = _smooth_field(rng, lung_b.shape, 7) * 0.8
        field += 1.4 * yb + 0.5 * np.abs(np.abs(xb) - 0.38) / 0.3 - lateral * np.sign(xb) * 0.6
        ranks = np.argsort(np.argsort(-field[inside]))
        patterns[k][inside] = (ranks / max(ranks.size - 1, 1)).astype(np.float32)
    mottle = 0.75 + 0.25 * _sig(_smooth_field(rng, lung_b.shape, 40) * 2.0)
    perihilar = np.exp(-(((np.abs(xb) - 0.18) ** 2) / 0.07 + ((yb + 0.02) ** 2) / 0.16))
    return Anatomy(
        base=base.astype(np.float32),
        box=box,
        lung=lung_b.astype(np.float32),
        patterns=patterns,
        mottle=mottle.astype(np.float32),
        perihilar=perihilar.astype(np.float32),
        base_height=base_height[box].astype(np.float32),
        tube=tube.astype(np.float32),
    )
