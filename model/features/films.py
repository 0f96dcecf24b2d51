"""Cohort films: loading (PNG or precomputed embedding), preprocessing, caching, selection."""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from model import ModelError
from model.cohort import Cohort, CohortFilm
from model.transforms import preprocess_film

log = logging.getLogger(__name__)

CACHE_DIR = ".ventfusion-cache"


class FilmLoadError(ModelError):
    """A cohort film cannot be read."""


@dataclass(slots=True)
class FilmStore:
    """All films of a cohort as one array: pixels ``(N, 1, S, S)`` or embeddings ``(N, E)``."""

    data: np.ndarray
    keys: list[str]
    times: list[datetime]
    uids: list[str]

    @property
    def is_embedding(self) -> bool:
        return self.data.ndim == 2


def load_display_image(root: Path, film: CohortFilm) -> np.ndarray:
    """A cohort PNG as a display-ready float image (higher = brighter, MONOCHROME1 inverted)."""
    try:
        data = (root / film.path).read_bytes()
    except OSError as exc:
        raise FilmLoadError(f"cannot read film {film.sop_instance_uid}: {exc}") from exc
    return decode_display_image(data, film)


def decode_display_image(data: bytes, film: CohortFilm) -> np.ndarray:
    """The bytes of a cohort PNG or JPEG as a display-ready float image."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            stored = np.asarray(img).astype(np.float32)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FilmLoadError(f"cannot read film {film.sop_instance_uid}: {exc}") from exc
    if stored.ndim == 3:
        stored = stored[..., :3].mean(axis=2)
    photometric = str(getattr(film, "photometric", "MONOCHROME2") or "MONOCHROME2")
    bits = int(getattr(film, "bits_stored", 16) or 16)
    if photometric.upper() == "MONOCHROME1":
        stored = float(2**bits - 1) - stored
    return stored


def _load_one(root: Path, film: CohortFilm, size: int) -> np.ndarray:
    if film.path.endswith(".npy"):
        return np.asarray(np.load(root / film.path), dtype=np.float32).reshape(-1)
    return preprocess_film(load_display_image(root, film), size)


def load_films(cohort: Cohort, size: int, *, use_cache: bool = True) -> FilmStore:
    """Load and preprocess every film of the cohort once (cached beside it, keyed by content)."""
    films = cohort.films
    keys = [f.key for f in films]
    times = [f.time for f in films]
    uids = [f.sop_instance_uid for f in films]
    if not films:
        return FilmStore(np.zeros((0, 1, size, size), np.float32), keys, times, uids)
    digest = hashlib.sha256(
        "\n".join(f"{f.path}|{f.sop_instance_uid}" for f in films).encode()
    ).hexdigest()[:16]
    cache = cohort.root / CACHE_DIR / f"films-{size}-{digest}.npy"
    if use_cache and cache.exists():
        return FilmStore(np.load(cache), keys, times, uids)
    log.info("preprocessing %d films at %d px", len(films), size)
    data = np.stack([_load_one(cohort.root, f, size) for f in films])
    if use_cache:
        try:
            cache.parent.mkdir(exist_ok=True)
            tmp = cache.with_suffix(".tmp.npy")
            np.save(tmp, data)
            tmp.replace(cache)
        except OSError as exc:  # read-only cohort: fine, just slower next time
            log.warning("film cache not written: %s", exc)
    return FilmStore(data, keys, times, uids)


def select_latest(
    film_hours: np.ndarray, query_hours: np.ndarray, max_age_h: float
) -> tuple[np.ndarray, np.ndarray]:
    """For sorted film times and query times (same clock, hours), the latest film at or before
    each query within ``max_age_h``: returns (position or -1, age in hours or NaN)."""
    pos = np.searchsorted(film_hours, query_hours, side="right") - 1
    age = np.full(query_hours.shape, np.nan, np.float32)
    ok = pos >= 0
    age[ok] = (query_hours[ok] - film_hours[pos[ok]]).astype(np.float32)
    ok &= age <= max_age_h
    return np.where(ok, pos, -1), np.where(ok, age, np.nan).astype(np.float32)
