"""The monotone bedside head: monotone by construction, whatever the weights.

Random networks (random GRU, heads, gate, slopes and neutral levels) are served through the real
``Predictor`` on vignette windows: the risk must not fall along any severity ladder, with or
without a film, and the bedside values must not reach the GRU.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from model.calibration import CardThresholds, PlattCalibration
from model.checkpoint import Checkpoint, ModelCard, load_checkpoint, save_checkpoint
from model.features.bedside import BEDSIDE_VARIABLES, bedside_features, compute_features
from model.features.spec import FeatureSpec, Normalisation
from model.nets import FusionNet, NetConfig
from model.nets.monotone import MonotoneHead, default_bedside
from model.predictor import Predictor
from model.shapley import NORMAL_VALUES
from model.vignettes import EXTREME, LADDERS, MODERATE, Vignette

SPEC = FeatureSpec(lookback_h=48, film_size=32)
STD = {"spo2": 3.0, "fio2": 18.0, "o2_flow": 12.0, "resp_rate": 5.0, "pao2": 35.0, "gcs_total": 2.0}


def _norm() -> Normalisation:
    mean = tuple(NORMAL_VALUES[v] + (8.0 if v == "fio2" else 0.0) for v in SPEC.variables)
    std = tuple(STD.get(v, max(abs(NORMAL_VALUES[v]) * 0.2, 0.1)) for v in SPEC.variables)
    return Normalisation(mean=mean, std=std)


def _random_predictor(seed: int, arch: str = "ehr_only") -> Predictor:
    torch.manual_seed(seed)
    cfg = NetConfig(
        n_inputs=SPEC.n_inputs, arch=arch, fusion="residual", hidden=16, cxr_dim=8, cnn_width=4,
        bedside="monotone", variables=SPEC.variables,
    )  # fmt: skip
    net = FusionNet(cfg)
    norm = _norm()
    assert net.mono is not None
    net.mono.set_normalisation(norm.mean, norm.std)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    ckpt = Checkpoint(
        model_id="test", model_version="0", net_config=cfg, feature_spec=SPEC,
        normalisation=norm, calibration=PlattCalibration(0.7, -1.0),
        thresholds=CardThresholds(0.1, 0.2, 0.3), card=ModelCard("test", "0", "", "", "", True),
        state_dict=net.state_dict(),
    )  # fmt: skip
    return Predictor(ckpt)


def _risks(model: Predictor, states: list[dict[str, float]], deranged_h: int, history_h: int):
    return [
        model.predict(Vignette("v", s, deranged_h, history_h).window(), explain=False).probability
        for s in states
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ladder", LADDERS, ids=[lad.name for lad in LADDERS])
def test_any_weights_give_a_risk_that_does_not_fall(seed: int, ladder) -> None:  # type: ignore[no-untyped-def]
    model = _random_predictor(seed)
    for deranged_h, history_h in ((0, 0), (0, 48), (12, 48)):
        risks = _risks(model, ladder.states(), deranged_h, history_h)
        assert all(b >= a - 1e-9 for a, b in itertools.pairwise(risks)), risks


@pytest.mark.parametrize("seed", [0, 1])
def test_sustained_derangement_never_counts_less(seed: int) -> None:
    model = _random_predictor(seed)
    for state in (MODERATE, EXTREME):
        # Only the bedside variables move: other values held from the first hour.
        steady = {k: v for k, v in state.items() if k in BEDSIDE_VARIABLES}
        baseline = {**NORMAL_VALUES, **{k: v for k, v in state.items() if k not in steady}}
        risks = [
            model.predict(
                Vignette("v", steady, hours, 48, baseline=baseline).window(), explain=False
            ).probability
            for hours in (1, 3, 6, 12, 24, 48)
        ]
        assert all(b >= a - 1e-9 for a, b in itertools.pairwise(risks)), risks


def test_bedside_values_do_not_reach_the_gru() -> None:
    torch.manual_seed(0)
    cfg = NetConfig(n_inputs=SPEC.n_inputs, arch="ehr_only", hidden=8, bedside="monotone",
                    variables=SPEC.variables)  # fmt: skip
    net = FusionNet(cfg).eval()
    x = torch.randn(3, 48, SPEC.n_inputs)
    y = x.clone()
    for name in BEDSIDE_VARIABLES:
        y[..., SPEC.variables.index(name)] += 2.0  # the bedside values move
    n_vars = len(SPEC.variables)
    y[..., n_vars : 3 * n_vars] = torch.rand(3, 48, 2 * n_vars)  # and every mask / time since
    assert net.gru_keep is not None
    torch.testing.assert_close(net.ehr(x * net.gru_keep), net.ehr(y * net.gru_keep))
    assert not torch.allclose(net.mono(x), net.mono(y))


def test_missing_value_is_neutral_not_normal() -> None:
    torch.manual_seed(0)
    head = MonotoneHead(SPEC.variables)
    with torch.no_grad():
        head.slope.uniform_(-0.2, 0.6)
        head.neutral.fill_(0.0)
    norm = _norm()
    head.set_normalisation(norm.mean, norm.std)
    n_vars = len(SPEC.variables)
    x = torch.zeros(1, 48, SPEC.n_inputs)
    x[..., 2 * n_vars : 3 * n_vars] = 1.0  # nothing charted in the window
    _, present = compute_features(x, head.features, SPEC.variables, head.mean, head.std)
    hours = [f.kind == "hours" for f in head.features]
    assert not present[0, ~torch.tensor(hours)].any()
    w = head.weights()
    best = torch.zeros(len(head.features))
    top = torch.stack([w[i, : len(f.knots) - 1].sum() for i, f in enumerate(head.features)])
    with torch.no_grad():
        neutral = head(x)
    assert float(neutral) > float(best.sum())
    # a missing value scores half-way up its curve (neutral level at initialisation)
    expected = 0.5 * top[~torch.tensor(hours)].sum().detach()
    assert float(neutral) == pytest.approx(float(expected), rel=1e-5)


def test_curves_are_non_decreasing_for_any_slopes() -> None:
    torch.manual_seed(1)
    head = MonotoneHead(SPEC.variables)
    with torch.no_grad():
        head.slope.normal_(0.0, 1.0)
    for i, feature in enumerate(head.features):
        lo, hi = feature.knots[0] - 5.0, feature.knots[-1] + 5.0
        u = torch.zeros(400, len(head.features))
        u[:, i] = torch.linspace(lo, hi, 400)
        f = head.curves(u)[:, i].detach()
        assert bool((f[1:] >= f[:-1] - 1e-7).all()), feature.name
        assert float(f[0]) == 0.0
        assert float(f[-1]) > float(f[200])


def test_features_follow_the_model_variables_and_config_round_trips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    names = {f.name for f in bedside_features(("spo2", "fio2", "resp_rate"))}
    assert {"rox_latest", "rox_hours", "sf_ratio_worst", "resp_rate_latest"} <= names
    assert not any(n.startswith(("pf_ratio", "gcs", "o2_flow")) for n in names)
    assert default_bedside(("spo2", "fio2")) == {}
    cfg = NetConfig(n_inputs=SPEC.n_inputs, bedside="monotone", variables=SPEC.variables)
    assert NetConfig.from_dict(cfg.to_dict()) == cfg
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("bedside", "variables")}
    assert NetConfig.from_dict(old).bedside == ""  # checkpoints from before the head still load
    model = _random_predictor(3, arch="gated")
    path = tmp_path / "m.pt"
    save_checkpoint(model.checkpoint, path)
    again = Predictor(load_checkpoint(path))
    window = Vignette("v", EXTREME, 6).window()
    assert again.predict(window).probability == model.predict(window).probability
    assert np.isfinite(again.predict(window).probability)
