"""Post-hoc calibration (Platt scaling of the logit) and card thresholds, fitted on validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from model.schemas import RiskLevel


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, np.float64))))


@dataclass(frozen=True, slots=True)
class PlattCalibration:
    """``p = sigmoid(a * logit + b)``; monotone, so AUROC is unchanged.

    A fusion model can carry a second map for its EHR path (``a_ehr``, ``b_ehr``): a window
    scored without a film, and the "risk without the film", then take the EHR path's own
    calibration instead of the fused one's (the fused logits are sharper where a film helps, and
    their map would flatten the EHR path's confident scores). Without it one map serves both.
    """

    a: float = 1.0
    b: float = 0.0
    a_ehr: float | None = None
    b_ehr: float | None = None

    def apply(self, logits: np.ndarray, has_film: np.ndarray | None = None) -> np.ndarray:
        """Probabilities of fused logits; rows where ``has_film`` is 0 take the EHR-path map."""
        fused = sigmoid(self.a * np.asarray(logits, np.float64) + self.b)
        if has_film is None or self.a_ehr is None:
            return fused
        return np.where(np.asarray(has_film) > 0, fused, self.apply_ehr(logits))

    def apply_ehr(self, logits: np.ndarray) -> np.ndarray:
        """Probabilities of EHR-path logits (the fused map when there is no EHR-path map)."""
        if self.a_ehr is None or self.b_ehr is None:
            return self.apply(logits)
        return sigmoid(self.a_ehr * np.asarray(logits, np.float64) + self.b_ehr)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": "platt", "a": self.a, "b": self.b}
        if self.a_ehr is not None:
            out.update(a_ehr=self.a_ehr, b_ehr=self.b_ehr)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlattCalibration:
        ehr = data.get("a_ehr") is not None
        return cls(
            a=float(data["a"]),
            b=float(data["b"]),
            a_ehr=float(data["a_ehr"]) if ehr else None,
            b_ehr=float(data["b_ehr"]) if ehr else None,
        )


def fit_fusion_platt(
    logits: np.ndarray, logits_ehr: np.ndarray, has_film: np.ndarray, labels: np.ndarray
) -> PlattCalibration:
    """The fused map on validation windows with a film, the EHR-path map on every validation
    window's EHR-path logit (the EHR path stands alone there)."""
    has = np.asarray(has_film) > 0
    fused = fit_platt(np.asarray(logits)[has], np.asarray(labels)[has])
    ehr = fit_platt(logits_ehr, labels)
    return PlattCalibration(a=fused.a, b=fused.b, a_ehr=ehr.a, b_ehr=ehr.b)


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> PlattCalibration:
    """Fit ``a, b`` by maximum likelihood on (validation) logits and 0/1 labels."""
    x = np.asarray(logits, np.float64)
    y = np.asarray(labels, np.float64)
    if x.size == 0 or y.min(initial=1) == y.max(initial=0):
        return PlattCalibration()

    def nll(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = params[0] * x + params[1]
        p = sigmoid(z)
        loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
        r = p - y
        return loss, np.asarray([np.mean(r * x), np.mean(r)])

    res = minimize(nll, np.asarray([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return PlattCalibration(a=float(res.x[0]), b=float(res.x[1]))


@dataclass(frozen=True, slots=True)
class CardThresholds:
    """Probability cut-offs of the card levels (info <= warning <= critical)."""

    info: float
    warning: float
    critical: float
    basis: str = ""

    def level(self, probability: float) -> RiskLevel:
        if probability >= self.critical:
            return RiskLevel.CRITICAL
        if probability >= self.warning:
            return RiskLevel.WARNING
        if probability >= self.info:
            return RiskLevel.INFO
        return RiskLevel.LOW

    def to_dict(self) -> dict[str, Any]:
        return {
            "info": self.info,
            "warning": self.warning,
            "critical": self.critical,
            "basis": self.basis,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CardThresholds:
        return cls(
            info=float(data["info"]),
            warning=float(data["warning"]),
            critical=float(data["critical"]),
            basis=str(data.get("basis", "")),
        )


def threshold_at_sensitivity(probs: np.ndarray, labels: np.ndarray, sensitivity: float) -> float:
    """Highest threshold whose sensitivity (``p >= t``) is at least ``sensitivity``."""
    pos = np.sort(np.asarray(probs, np.float64)[np.asarray(labels) > 0.5])[::-1]
    if pos.size == 0:
        return 1.0
    k = max(int(np.ceil(sensitivity * pos.size)) - 1, 0)
    return float(pos[min(k, pos.size - 1)])


def choose_thresholds(
    probs: np.ndarray,
    labels: np.ndarray,
    sensitivities: tuple[float, float, float] = (0.85, 0.6, 0.3),
) -> CardThresholds:
    """Card thresholds from validation: info / warning / critical at the given sensitivities."""
    info, warning, critical = (threshold_at_sensitivity(probs, labels, s) for s in sensitivities)
    warning = max(warning, info)
    critical = max(critical, warning)
    basis = (
        "validation sensitivity "
        f"{sensitivities[0]:.2f} / {sensitivities[1]:.2f} / {sensitivities[2]:.2f}"
    )
    return CardThresholds(info=info, warning=warning, critical=critical, basis=basis)
