"""Bedside features of a window, read from the EHR tensor: the signs clinicians act on.

The model's monotone head (``model.nets.monotone``) reads these, so that risk cannot fall when
respiratory failure worsens (docs/model.md, "Monotone bedside head"). They are computed inside
the network from the EHR input ``(B, L, 3V+2)`` (``model.features.grid.window_tensor``): the
value channels are de-normalised with the checkpoint's normalisation, a value is present in a bin
when its time-since-last channel is below 1 (observed inside the window), and the last bin is the
prediction time. Computing them in the network keeps training, serving and the Shapley drivers
(which swap charted values for normal ones, ``model.shapley``) on exactly one code path, and
attributes every feature to the groups of the variables it is made of.

Every index is written as a **badness**, higher = worse, and each is non-decreasing in every
source variable's worse direction (lower SpO2 or PaO2, higher FiO2, O2 flow or RR, lower GCS or
pH, higher PaCO2 with acidaemia, higher HR or lactate, lower SBP or MAP):

- ROX = (SpO2 / FiO2) / RR (Roca 2016, 2019), S/F = SpO2 / FiO2 (Rice 2007), P/F = PaO2 / FiO2
  (FiO2 as a fraction): badness = minus the index;
- RR, FiO2, O2 flow: the value; SpO2, GCS, pH: minus the value;
- HR, lactate: the value; SBP, MAP: minus the value (tachycardia, hypotension and
  hyperlactataemia: circulatory failure, which makes respiratory failure less tolerable; the
  head is monotone towards tachycardia only, a bradycardic arrest is not what it predicts);
- hypercapnic acidosis = min(PaCO2 - 45 mmHg, 100 x (7.35 - pH)): positive only when both hold,
  the blood-gas criterion of acute ventilatory failure (BTS/ICS NIV guideline, Thorax 2016;71
  Suppl 2:ii1-ii35). PaCO2 alone is not monotone (a compensated chronic retainer's is high), so it
  enters only through this index; bicarbonate (chronic compensation) stays with the EHR encoder.

Three kinds of feature per index: the **latest** value (carried forward inside the window), the
**worst** over the last ``RECENT_H`` hours, and the **hours deranged** over the whole lookback
(hours with the index past a published cut-off, a soft count, so a derangement held longer never
counts less). A feature without a value in the window is *missing*; the head gives it a learned
neutral contribution, not the contribution of a normal value.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from model import ModelError

#: The variables whose values reach the model only through the bedside features (never the GRU).
BEDSIDE_VARIABLES: tuple[str, ...] = (
    "spo2", "fio2", "o2_flow", "resp_rate", "pao2", "gcs_total", "ph", "paco2",
    "heart_rate", "sbp", "map", "lactate",
)  # fmt: skip
#: Hours over which the worst value is taken.
RECENT_H = 6
#: Hour knots of the hours-deranged features.
HOUR_KNOTS: tuple[float, ...] = (0.0, 1.0, 3.0, 6.0, 12.0, 24.0, 48.0)


@dataclass(frozen=True, slots=True)
class BedsideIndex:
    """One index: its source variables, and knots in its natural units from normal to worse."""

    name: str
    inputs: tuple[str, ...]
    knots: tuple[float, ...]  # natural units, ordered from normal towards worse
    sign: float  # badness = sign * index
    cut: float | None = None  # natural-unit cut-off of the hours-deranged feature (None: none)
    soft: float = 1.0  # width of the soft step of the hours count, natural units
    worst: bool = True  # has a worst-over-recent-hours feature


INDICES: tuple[BedsideIndex, ...] = (
    BedsideIndex("rox", ("spo2", "fio2", "resp_rate"),
                 (24.0, 16.0, 10.0, 7.0, 5.5, 4.88, 3.85, 3.0, 2.5, 2.0), -1.0, 4.88, 0.2),
    BedsideIndex("sf_ratio", ("spo2", "fio2"),
                 (460.0, 400.0, 350.0, 315.0, 270.0, 235.0, 190.0, 150.0, 120.0, 95.0), -1.0,
                 235.0, 8.0),
    BedsideIndex("pf_ratio", ("pao2", "fio2"),
                 (450.0, 380.0, 300.0, 250.0, 200.0, 150.0, 100.0, 75.0), -1.0, worst=False),
    BedsideIndex("resp_rate", ("resp_rate",),
                 (16.0, 20.0, 24.0, 28.0, 30.0, 33.0, 36.0, 40.0, 44.0), 1.0, 30.0, 1.0),
    BedsideIndex("fio2", ("fio2",), (21.0, 28.0, 35.0, 45.0, 60.0, 80.0, 100.0), 1.0, 60.0, 3.0),
    BedsideIndex("o2_flow", ("o2_flow",),
                 (0.0, 2.0, 4.0, 8.0, 15.0, 30.0, 40.0, 50.0, 60.0), 1.0),
    BedsideIndex("spo2", ("spo2",), (97.0, 95.0, 93.0, 91.0, 89.0, 86.0, 82.0), -1.0,
                 worst=False),
    BedsideIndex("gcs", ("gcs_total",), (15.0, 14.0, 13.0, 11.0, 9.0, 6.0), -1.0),
    BedsideIndex("ph", ("ph",), (7.40, 7.35, 7.30, 7.25, 7.20, 7.15, 7.05), -1.0, worst=False),
    BedsideIndex("hypercapnic_acidosis", ("paco2", "ph"), (0.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0),
                 1.0, worst=False),
    BedsideIndex("heart_rate", ("heart_rate",), (90.0, 100.0, 110.0, 120.0, 130.0, 140.0, 160.0),
                 1.0, 120.0, 2.0),
    BedsideIndex("sbp", ("sbp",), (110.0, 100.0, 90.0, 80.0, 70.0, 60.0), -1.0, 90.0, 2.0),
    BedsideIndex("map", ("map",), (75.0, 70.0, 65.0, 60.0, 55.0, 50.0), -1.0),
    BedsideIndex("lactate", ("lactate",), (1.5, 2.0, 3.0, 4.0, 6.0, 10.0), 1.0, worst=False),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BedsideFeature:
    """One input of the monotone head: an index and a kind (latest, worst, hours)."""

    index: BedsideIndex
    kind: str  # latest | worst | hours

    @property
    def name(self) -> str:
        return f"{self.index.name}_{self.kind}"

    @property
    def knots(self) -> tuple[float, ...]:
        """Knots in badness units, ascending."""
        if self.kind == "hours":
            return HOUR_KNOTS
        return tuple(self.index.sign * k for k in self.index.knots)


def bedside_features(
    variables: tuple[str, ...], names: tuple[str, ...] | None = None
) -> tuple[BedsideFeature, ...]:
    """The features whose source variables are all among the model's ``variables`` (only those
    called ``names``, in that order, when given: what a checkpoint recorded)."""
    if names is not None:
        known = {f.name: f for f in bedside_features(variables)}
        missing = [n for n in names if n not in known]
        if missing:
            raise ModelError(f"unknown bedside features {missing} for these variables")
        return tuple(known[n] for n in names)
    out: list[BedsideFeature] = []
    for index in INDICES:
        if not set(index.inputs) <= set(variables):
            continue
        out.append(BedsideFeature(index, "latest"))
        if index.worst:
            out.append(BedsideFeature(index, "worst"))
        if index.cut is not None:
            out.append(BedsideFeature(index, "hours"))
    return tuple(out)


def _badness(index: BedsideIndex, raw: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-bin badness ``(B, L)`` of an index from raw values (any value where absent)."""
    if index.name == "rox":
        value = raw["spo2"] / (raw["fio2"] / 100.0) / raw["resp_rate"].clamp(min=1.0)
    elif index.name == "sf_ratio":
        value = raw["spo2"] / (raw["fio2"] / 100.0)
    elif index.name == "pf_ratio":
        value = raw["pao2"] / (raw["fio2"] / 100.0)
    elif index.name == "hypercapnic_acidosis":  # both PaCO2 > 45 and pH < 7.35, in mmHg / 0.01
        value = torch.minimum(raw["paco2"] - 45.0, 100.0 * (7.35 - raw["ph"]))
    else:
        value = raw[index.inputs[0]]
    return index.sign * value


def compute_features(
    x: torch.Tensor,
    features: tuple[BedsideFeature, ...],
    variables: tuple[str, ...],
    mean: torch.Tensor,
    std: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature values ``(B, n)`` in badness units (hours for ``hours``) and presence ``(B, n)``.

    ``x`` is the EHR input ``(B, L, 3V+2)``; ``mean``/``std`` the normalisation ``(V,)``.
    """
    n_vars = len(variables)
    pos = {name: i for i, name in enumerate(variables)}
    needed = sorted({v for f in features for v in f.index.inputs}, key=pos.__getitem__)
    idx = torch.as_tensor([pos[v] for v in needed], dtype=torch.long)
    values = x[..., idx] * std[idx] + mean[idx]
    present = x[..., 2 * n_vars + idx] < 1.0  # time since last < lookback: observed in window
    # FiO2 is at least room air; keeps ratios finite where a value is absent (masked anyway).
    raw = {v: values[..., j] for j, v in enumerate(needed)}
    if "fio2" in raw:
        raw["fio2"] = raw["fio2"].clamp(min=21.0)
    has = {v: present[..., j] for j, v in enumerate(needed)}
    cols: list[torch.Tensor] = []
    avail: list[torch.Tensor] = []
    cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for feature in features:
        index = feature.index
        if index.name not in cache:
            ok = torch.stack([has[v] for v in index.inputs]).all(dim=0)
            cache[index.name] = (_badness(index, raw), ok)
        bad, ok = cache[index.name]
        if feature.kind == "latest":
            cols.append(torch.where(ok[:, -1], bad[:, -1], torch.zeros_like(bad[:, -1])))
            avail.append(ok[:, -1])
        elif feature.kind == "worst":
            recent_ok = ok[:, -RECENT_H:]
            masked = torch.where(recent_ok, bad[:, -RECENT_H:], torch.full_like(bad[:, :1], -1e9))
            worst = masked.max(dim=1).values
            any_ok = recent_ok.any(dim=1)
            cols.append(torch.where(any_ok, worst, torch.zeros_like(worst)))
            avail.append(any_ok)
        else:
            assert index.cut is not None
            cut = index.sign * index.cut
            step = torch.sigmoid((bad - cut) / index.soft) * ok.to(bad.dtype)
            cols.append(step.sum(dim=1))
            avail.append(torch.ones_like(ok[:, -1]))  # no value charted: no hour deranged
    return torch.stack(cols, dim=1), torch.stack(avail, dim=1)
