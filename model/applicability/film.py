"""The film half of the applicability guard: does this film look like the training films?

A film is described by up to three feature groups, each modelled as a Gaussian fitted on the
training films (``GaussianScore``: Mahalanobis distance, Ledoit-Wolf covariance):

- ``embedding``: the CXR encoder's output (what the model itself reads; the only group for a
  model trained on precomputed foundation-model embeddings);
- ``layout``: the film's 8 x 8 block means, standardised per film: where bright and dark
  structures lie (mediastinum, lungs, diaphragm, collimation, text, body outline);
- ``intensity``: quantiles of the 16 x 16 block means: the film's grey-level distribution.

The score of a film is the largest of its group distances (each in units of the validation
films' median distance), so a film close to the training films in one statistic is still caught
by another; the threshold is the ``1 - false_rejection_rate`` quantile of the validation films'
scores. The block statistics are computed on the preprocessed ``(1, S, S)`` tensor, after the
shared transforms, so training (cohort PNGs) and serving (DICOM) compute them identically; they
are coarse on purpose, so that a film rendered at another matrix size or noise level by the same
process stays inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.applicability.gaussian import GaussianScore
from model.schemas import FilmAppearance
from model.transforms import preprocess_film

APPEARANCE_VERSION = "layout8z+quantiles16-v1"
LAYOUT_CELLS = 8
INTENSITY_CELLS = 16
INTENSITY_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
APPEARANCE_DIM = LAYOUT_CELLS**2 + len(INTENSITY_QUANTILES)
_SLICES = {
    "layout": slice(0, LAYOUT_CELLS**2),
    "intensity": slice(LAYOUT_CELLS**2, LAYOUT_CELLS**2 + len(INTENSITY_QUANTILES)),
}
#: Stated false-rejection rate on validation films of the default guard.
FALSE_REJECTION_RATE = 0.01
#: Fewer validation films than this: calibrate on training and validation films together.
MIN_CALIBRATION_FILMS = 50


def block_means(images: np.ndarray, cells: int) -> np.ndarray:
    """Adaptive average pooling of ``(N, H, W)`` (or ``(N, 1, H, W)``) to ``(N, cells, cells)``
    (cell ``i`` covers rows ``floor(i H / n)`` to ``ceil((i + 1) H / n)``, as torch does)."""
    x = np.asarray(images, np.float64)
    x = x.reshape(-1, x.shape[-2], x.shape[-1])
    n, h, w = x.shape
    integral = np.zeros((n, h + 1, w + 1))
    integral[:, 1:, 1:] = x.cumsum(1).cumsum(2)
    r0 = np.floor(np.arange(cells) * h / cells).astype(int)
    r1 = np.ceil((np.arange(cells) + 1) * h / cells).astype(int)
    c0 = np.floor(np.arange(cells) * w / cells).astype(int)
    c1 = np.ceil((np.arange(cells) + 1) * w / cells).astype(int)
    total = (
        integral[:, r1][:, :, c1]
        - integral[:, r0][:, :, c1]
        - integral[:, r1][:, :, c0]
        + integral[:, r0][:, :, c0]
    )
    area = (r1 - r0)[:, None] * (c1 - c0)[None, :]
    out: np.ndarray = total / area
    return out


def appearance_features(pixels: np.ndarray) -> np.ndarray:
    """Layout and intensity features ``(N, 69)`` of preprocessed films ``(N, 1, S, S)``."""
    layout = block_means(pixels, LAYOUT_CELLS).reshape(-1, LAYOUT_CELLS**2)
    layout = (layout - layout.mean(1, keepdims=True)) / (layout.std(1, keepdims=True) + 1e-6)
    fine = block_means(pixels, INTENSITY_CELLS).reshape(-1, INTENSITY_CELLS**2)
    intensity = np.quantile(fine, INTENSITY_QUANTILES, axis=1).T
    return np.concatenate([layout, intensity], axis=1)


def film_appearance(pixels: np.ndarray, size: int) -> FilmAppearance:
    """The appearance of one film, kept with it at ingest: ``pixels`` is the model tensor
    ``(1, size, size)`` (anything else is run through ``model.transforms`` first)."""
    arr = np.asarray(pixels, np.float32)
    if arr.shape != (1, size, size):
        arr = preprocess_film(arr, size)
    values = appearance_features(arr[None])[0]
    return FilmAppearance(version=APPEARANCE_VERSION, values=tuple(float(v) for v in values))


@dataclass(frozen=True, slots=True)
class FilmVerdict:
    """The guard's score of one film: ``ratio`` > 1 means unlike the training films."""

    ratio: float
    outside: tuple[str, ...]  # the feature groups beyond the threshold

    @property
    def used(self) -> bool:
        return self.ratio <= 1.0


@dataclass(frozen=True, slots=True)
class FilmGuard:
    """Per-group Gaussians of the training films and the calibrated threshold."""

    groups: dict[str, GaussianScore]
    threshold: float
    false_rejection_rate: float
    calibrated_on: str  # "validation films" | "training and validation films"
    fitted_on: dict[str, int] = field(default_factory=dict)
    appearance_version: str = APPEARANCE_VERSION

    @property
    def needs_appearance(self) -> bool:
        return any(name in self.groups for name in _SLICES)

    @classmethod
    def fit(
        cls,
        train_embeddings: np.ndarray,
        val_embeddings: np.ndarray,
        train_appearance: np.ndarray | None,
        val_appearance: np.ndarray | None,
        *,
        false_rejection_rate: float = FALSE_REJECTION_RATE,
    ) -> FilmGuard:
        """Fit on training films, calibrate the threshold on validation films (both pooled when
        there are fewer than ``MIN_CALIBRATION_FILMS`` validation films)."""
        pooled = len(val_embeddings) < MIN_CALIBRATION_FILMS
        train = {"embedding": np.asarray(train_embeddings, np.float64)}
        val = {"embedding": np.asarray(val_embeddings, np.float64)}
        if train_appearance is not None and val_appearance is not None:
            for name, part in _SLICES.items():
                train[name] = np.asarray(train_appearance)[:, part]
                val[name] = np.asarray(val_appearance)[:, part]
        calib = {k: np.concatenate([train[k], val[k]]) if pooled else val[k] for k in train}
        groups = {k: GaussianScore.fit(train[k], calib[k]) for k in train}
        scores = np.max(np.stack([groups[k].distance(calib[k]) for k in groups]), axis=0)
        threshold = float(np.quantile(scores, 1.0 - false_rejection_rate))
        return cls(
            groups=groups,
            threshold=threshold,
            false_rejection_rate=false_rejection_rate,
            calibrated_on="training and validation films" if pooled else "validation films",
            fitted_on={
                "train_films": len(train_embeddings),
                "validation_films": len(val_embeddings),
            },
        )

    def assess(self, embedding: np.ndarray, appearance: np.ndarray | None) -> FilmVerdict:
        """Score one film (``appearance`` may be None only when the guard does not need it)."""
        parts: dict[str, np.ndarray] = {"embedding": np.asarray(embedding, np.float64)}
        if appearance is not None:
            parts.update({k: np.asarray(appearance)[s] for k, s in _SLICES.items()})
        distances = {k: float(g.distance(parts[k])[0]) for k, g in self.groups.items()}
        distances = {k: d if np.isfinite(d) else np.inf for k, d in distances.items()}
        worst = max(distances.values())  # a non-finite feature (corrupt input) is outside
        outside = tuple(k for k, d in distances.items() if d > self.threshold)
        return FilmVerdict(ratio=worst / self.threshold, outside=outside)

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": {k: g.to_dict() for k, g in self.groups.items()},
            "threshold": self.threshold,
            "false_rejection_rate": self.false_rejection_rate,
            "calibrated_on": self.calibrated_on,
            "fitted_on": dict(self.fitted_on),
            "appearance_version": self.appearance_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FilmGuard:
        return cls(
            groups={k: GaussianScore.from_dict(v) for k, v in dict(data["groups"]).items()},
            threshold=float(data["threshold"]),
            false_rejection_rate=float(data["false_rejection_rate"]),
            calibrated_on=str(data["calibrated_on"]),
            fitted_on={str(k): int(v) for k, v in dict(data.get("fitted_on", {})).items()},
            appearance_version=str(data.get("appearance_version", APPEARANCE_VERSION)),
        )
