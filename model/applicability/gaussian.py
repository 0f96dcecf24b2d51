"""A Gaussian model of one feature group: Mahalanobis distance with a shrunk covariance.

Fitted on training films with Ledoit-Wolf shrinkage (well conditioned even when a group has
more dimensions than a small cohort has films); the distance is divided by its median on the
calibration films, so groups of different widths are on one scale (1 = a typical training film).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.covariance import LedoitWolf


@dataclass(frozen=True, slots=True)
class GaussianScore:
    """Mean, precision matrix and median distance of one feature group."""

    mean: np.ndarray  # (D,) float64
    precision: np.ndarray  # (D, D) float64
    scale: float  # median distance of the calibration films

    @classmethod
    def fit(cls, train: np.ndarray, calibration: np.ndarray) -> GaussianScore:
        """Fit on ``train`` ``(N, D)``; ``scale`` from the ``calibration`` films' distances."""
        data = np.asarray(train, np.float64)
        if data.ndim != 2 or data.shape[0] < 2:
            raise ValueError(f"need at least 2 training rows, got shape {data.shape}")
        shrunk = LedoitWolf().fit(data)
        # A constant feature has zero variance; keep the precision finite (it is then a
        # near-hard constraint, which is what "never seen otherwise" means).
        cov = shrunk.covariance_ + np.eye(data.shape[1]) * 1e-9
        score = cls(shrunk.location_, np.linalg.inv(cov), 1.0)
        median = float(np.median(score.raw_distance(calibration)))
        return cls(score.mean, score.precision, max(median, 1e-12))

    def raw_distance(self, rows: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row ``(N, D)`` (or one row ``(D,)``)."""
        x = np.atleast_2d(np.asarray(rows, np.float64)) - self.mean
        squared = np.einsum("nd,de,ne->n", x, self.precision, x)
        out: np.ndarray = np.sqrt(np.maximum(squared, 0.0))
        return out

    def distance(self, rows: np.ndarray) -> np.ndarray:
        """Distance in units of the calibration films' median distance."""
        return self.raw_distance(rows) / self.scale

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean.tolist(),
            "precision": self.precision.tolist(),
            "scale": self.scale,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GaussianScore:
        mean = np.asarray(data["mean"], np.float64)
        precision = np.asarray(data["precision"], np.float64)
        if precision.shape != (mean.shape[0], mean.shape[0]):
            raise ValueError("precision matrix does not match the mean")
        return cls(mean, precision, float(data["scale"]))
