"""Monotone additive head over the bedside features: a sum of non-decreasing curves.

Each feature ``u`` (badness units, ``model.features.bedside``) passes through its own
piecewise-linear curve with fixed knots ``t_0 < ... < t_K``::

    f(u) = sum_k w_k * clamp((u - t_k) / (t_{k+1} - t_k), 0, 1)
           + w_K * relu(u - t_K) / (t_K - t_{K-1})
    w_k  = softplus(GAIN * r_k + OFFSET) >= 0

so ``f`` is non-decreasing by construction (every slope is a softplus), flat at 0 up to the
normal end ``t_0`` and still rising past the last knot (a state worse than any seen in training
is not scored as the last one seen). A feature without a value in the window contributes its
learned neutral level ``sigmoid(GAIN * q) * f(t_K)``, between the best and the worst score of
its curve. The head's output is added to the EHR logit; Platt scaling (``a > 0``) keeps the
order. ``GAIN`` lets Adam move the slopes at a useful speed; weight decay pulls ``r`` to 0, a
small slope (a prior of "no effect").
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn import functional as F

from model.features.bedside import (
    BEDSIDE_VARIABLES,
    RECENT_H,
    bedside_features,
    compute_features,
)

GAIN = 8.0
OFFSET = -4.0
#: Learning-rate multiplier of the head's parameters (``model.training.loop.make_optimizer``).
MONO_LR_MULT = 10.0


class MonotoneHead(nn.Module):
    """``logit contribution (B,)`` of the bedside features of the EHR input ``x``."""

    knots: torch.Tensor
    widths: torch.Tensor
    used: torch.Tensor
    last: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, variables: tuple[str, ...], names: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.variables = tuple(variables)
        self.features = bedside_features(self.variables, names)
        n = len(self.features)
        width = max(len(f.knots) for f in self.features) if n else 1
        knots = torch.zeros(n, width)
        widths = torch.ones(n, width)
        used = torch.zeros(n, width)  # segment k (k < K) and the open tail (index K)
        for i, feature in enumerate(self.features):
            t = torch.as_tensor(feature.knots, dtype=torch.float32)
            k = t.numel()
            knots[i, :k] = t
            knots[i, k:] = t[-1]
            widths[i, : k - 1] = t[1:] - t[:-1]
            widths[i, k - 1 :] = t[-1] - t[-2]
            used[i, :k] = 1.0
        self.register_buffer("knots", knots)
        self.register_buffer("widths", widths)
        self.register_buffer("used", used)
        self.register_buffer("last", torch.as_tensor([len(f.knots) - 1 for f in self.features]))
        self.slope = nn.Parameter(torch.zeros(n, width))
        self.neutral = nn.Parameter(torch.zeros(n))
        # The normalisation of the EHR input (set from the checkpoint's, saved with the weights).
        self.register_buffer("mean", torch.zeros(len(self.variables)))
        self.register_buffer("std", torch.ones(len(self.variables)))

    def set_normalisation(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def weights(self) -> torch.Tensor:
        """Non-negative weight of every segment ``(n, K+1)`` (0 for padding)."""
        return F.softplus(GAIN * self.slope + OFFSET) * self.used

    def curves(self, u: torch.Tensor) -> torch.Tensor:
        """``f_i(u_i)`` for feature values ``u`` ``(B, n)``."""
        w = self.weights()
        knots, widths = self.knots, self.widths
        seg = ((u[:, :, None] - knots[None]) / widths[None]).clamp(0.0, 1.0)
        last = self.last[:, None]
        pos = torch.arange(w.shape[1])[None, :]
        bounded = (pos < last).to(w.dtype)  # segments 0..K-1; index K is the open tail
        tail_knot = knots.gather(1, last)
        tail_width = widths.gather(1, last)
        tail = torch.relu(u - tail_knot.T) / tail_width.T  # (B, n)
        w_tail = w.gather(1, last).T  # (1, n)
        return (seg * (w * bounded)[None]).sum(dim=2) + w_tail * tail

    @functools.cached_property
    def input_masks(self) -> torch.Tensor:
        """Per feature, a bit mask ``(n,)`` of the variables (positions in ``variables``) it
        reads (computed once)."""
        pos = {name: i for i, name in enumerate(self.variables)}
        masks = [sum(1 << pos[v] for v in f.index.inputs) for f in self.features]
        return torch.tensor(masks, dtype=torch.long)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.contributions(x).sum(dim=1)

    def contributions(self, x: torch.Tensor) -> torch.Tensor:
        """Each feature's term ``(B, n)`` of the head's output: its curve at the feature's value,
        or its neutral level when the feature has none. A term depends on the values of the
        feature's own variables only (``input_masks``) and on when they were charted."""
        if not self.features:
            return x.new_zeros(x.shape[0], 0)
        u, present = compute_features(
            x,
            self.features,
            self.variables,
            self.mean,
            self.std,
        )
        w = self.weights()
        pos = torch.arange(w.shape[1])[None, :]
        top = (w * (pos < self.last[:, None])).sum(dim=1)  # f(t_K)
        neutral = torch.sigmoid(GAIN * self.neutral) * top
        return torch.where(present, self.curves(u), neutral[None])


def gru_keep_mask(
    variables: tuple[str, ...], n_inputs: int, withheld: tuple[str, ...] = BEDSIDE_VARIABLES
) -> torch.Tensor:
    """``(n_inputs,)`` 1/0 of what the GRU reads: the values of the variables not ``withheld``
    (``BEDSIDE_VARIABLES``) and the static features. The bedside values reach the model only
    through the monotone head, and no variable's charting mask or time since last reaches it: how
    often a site charts is a habit of the site (the simulator's is not a hospital's), and a
    patient charted once must not read as "healthy because little was charted"."""
    keep = torch.zeros(n_inputs)
    n_vars = len(variables)
    for i, name in enumerate(variables):
        if name not in withheld:
            keep[i] = 1.0
    keep[3 * n_vars :] = 1.0  # age, sex
    return keep


def default_bedside(variables: tuple[str, ...]) -> dict[str, object]:
    """``NetConfig`` settings of the bedside head new models get: monotone wherever SpO2, FiO2
    and RR are inputs (nothing otherwise); the feature names and withheld variables are recorded
    so that a later change of the defaults cannot change what a saved model reads."""
    if not {"spo2", "fio2", "resp_rate"} <= set(variables):
        return {}
    return {
        "bedside": "monotone",
        "variables": tuple(variables),
        "bedside_features": tuple(f.name for f in bedside_features(tuple(variables))),
        "gru_withheld": tuple(v for v in variables if v in BEDSIDE_VARIABLES),
    }


def bedside_text(bedside: str) -> str:
    """The model card's words for the bedside head ("" without one)."""
    if bedside != "monotone":
        return ""
    return (
        "; monotone bedside head (ROX, SpO2/FiO2, PaO2/FiO2, RR, FiO2, O2 flow, SpO2, GCS: "
        f"latest, worst over {RECENT_H} h, hours deranged) added to the EHR logit, bedside "
        "values withheld from the EHR encoder"
    )
