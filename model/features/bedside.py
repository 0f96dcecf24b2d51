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

    ``x`` is the EHR input ``(B, L, 3V+2)``; ``mean``/``std`` the normalisation ``(V,)``. Every
    index's per-bin badness is computed once, and each kind of feature for all indices at once.
    """
    plan = _plan(features, variables)
    idx = plan.inputs
    values = x[..., idx] * std[idx] + mean[idx]
    # FiO2 is at least room air; keeps ratios finite where a value is absent (masked anyway).
    values = torch.maximum(values, plan.floor)
    present = x[..., 2 * len(variables) + idx] < 1.0  # time since last < lookback: in window
    raw = {v: values[..., j] for j, v in enumerate(plan.needed)}
    simple = plan.signs * values[..., plan.simple_inputs]  # (B, L, n_simple)
    derived = [_badness(index, raw) for index in plan.derived]
    bad = torch.cat([simple, *(d[..., None] for d in derived)], dim=2)[..., plan.bad_order]
    ok = present[..., plan.members].all(dim=3)  # (B, L, n_indices): all inputs observed
    latest_ok = ok[:, -1]
    latest = torch.where(latest_ok, bad[:, -1], torch.zeros_like(bad[:, -1]))
    recent_ok = ok[:, -RECENT_H:]
    masked = torch.where(recent_ok, bad[:, -RECENT_H:], torch.full_like(bad[:, :1], -1e9))
    any_ok = recent_ok.any(dim=1)
    worst = masked.max(dim=1).values
    worst = torch.where(any_ok, worst, torch.zeros_like(worst))
    step = torch.sigmoid((bad - plan.cuts) / plan.softs) * ok.to(bad.dtype)
    hours = step.sum(dim=1)
    value_cols = torch.cat([latest, worst, hours], dim=1)[:, plan.columns]
    avail_cols = torch.cat([latest_ok, any_ok, torch.ones_like(latest_ok)], dim=1)[:, plan.columns]
    return value_cols, avail_cols


@dataclass(frozen=True, slots=True)
class _Plan:
    """Index arrays of :func:`compute_features` for one model's features and variables."""

    needed: tuple[str, ...]  # the variables read, in input order
    inputs: torch.Tensor  # (n_needed,) their input positions
    floor: torch.Tensor  # (n_needed,) lowest value (FiO2: room air; -inf otherwise)
    simple_inputs: torch.Tensor  # positions in ``needed`` of the single-variable indices
    signs: torch.Tensor  # their signs
    derived: tuple[BedsideIndex, ...]  # indices computed from several variables
    bad_order: torch.Tensor  # (n_indices,) from [simple, derived] to index order
    members: torch.Tensor  # (n_indices, width) positions in ``needed`` of each index's inputs
    cuts: torch.Tensor  # (n_indices,) hours-deranged cut-off in badness units (0: none)
    softs: torch.Tensor  # (n_indices,)
    columns: torch.Tensor  # (n,) each feature's column in [latest, worst, hours]


_PLANS: dict[tuple[tuple[BedsideFeature, ...], tuple[str, ...]], _Plan] = {}


def _plan(features: tuple[BedsideFeature, ...], variables: tuple[str, ...]) -> _Plan:
    key = (features, variables)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _make_plan(features, variables)
    return plan


def _make_plan(features: tuple[BedsideFeature, ...], variables: tuple[str, ...]) -> _Plan:
    pos = {name: i for i, name in enumerate(variables)}
    needed = tuple(sorted({v for f in features for v in f.index.inputs}, key=pos.__getitem__))
    at = {v: j for j, v in enumerate(needed)}
    indices = tuple(dict.fromkeys(f.index for f in features))
    order = {index.name: i for i, index in enumerate(indices)}
    simple = [ix for ix in indices if ix.name not in _DERIVED]
    derived = tuple(ix for ix in indices if ix.name in _DERIVED)
    stacked = [ix.name for ix in (*simple, *derived)]
    width = max(len(ix.inputs) for ix in indices)
    members = [[at[v] for v in ix.inputs] + [at[ix.inputs[0]]] * (width - len(ix.inputs))
               for ix in indices]  # fmt: skip
    kinds = {"latest": 0, "worst": 1, "hours": 2}
    n = len(indices)
    return _Plan(
        needed=needed,
        inputs=torch.as_tensor([pos[v] for v in needed], dtype=torch.long),
        floor=torch.as_tensor([21.0 if v == "fio2" else -torch.inf for v in needed]),
        simple_inputs=torch.as_tensor([at[ix.inputs[0]] for ix in simple], dtype=torch.long),
        signs=torch.as_tensor([ix.sign for ix in simple]),
        derived=derived,
        bad_order=torch.as_tensor([stacked.index(ix.name) for ix in indices], dtype=torch.long),
        members=torch.as_tensor(members, dtype=torch.long),
        cuts=torch.as_tensor([ix.sign * ix.cut if ix.cut is not None else 0.0 for ix in indices]),
        softs=torch.as_tensor([ix.soft for ix in indices]),
        columns=torch.as_tensor(
            [kinds[f.kind] * n + order[f.index.name] for f in features], dtype=torch.long
        ),
    )


#: Indices whose badness is not one variable's value times the sign (``_badness``).
_DERIVED = frozenset({"rox", "sf_ratio", "pf_ratio", "hypercapnic_acidosis"})
