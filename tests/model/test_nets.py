"""Nets: output shapes for every architecture / encoder, and the exact gate-zero property."""

from __future__ import annotations

import pytest
import torch

from model import ModelError
from model.nets import ARCHS, FusionNet, NetConfig

N_INPUTS = 3 * 17 + 2


def _inputs(batch: int = 6, lookback: int = 12, emb: int = 16) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, lookback, N_INPUTS, generator=g)
    film = torch.randn(batch, emb, generator=g)
    age = torch.rand(batch, generator=g)
    has = torch.tensor([1.0, 0.0] * (batch // 2))
    return x, film, age, has


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("ehr", ["gru", "transformer"])
def test_shapes_for_every_arch(arch: str, ehr: str) -> None:
    torch.manual_seed(0)
    net = FusionNet(
        NetConfig(n_inputs=N_INPUTS, lookback_h=12, arch=arch, ehr_encoder=ehr, hidden=16)
    ).eval()
    x, _, age, has = _inputs()
    films = torch.rand(6, 1, 32, 32)
    emb = net.embed(films)
    assert emb.shape == (6, 64)
    out = net(x, emb, age, has)
    assert out.logit.shape == out.logit_ehr.shape == out.gate.shape == (6,)
    assert torch.isfinite(out.logit).all()


@pytest.mark.parametrize(
    ("encoder", "extra"), [("densenet121", {}), ("embedding", {"embedding_dim": 24})]
)
def test_pluggable_cxr_encoders(encoder: str, extra: dict[str, int]) -> None:
    torch.manual_seed(0)
    cfg = NetConfig(n_inputs=N_INPUTS, lookback_h=12, cxr_encoder=encoder, cxr_dim=32, **extra)
    net = FusionNet(cfg).eval()
    films = torch.rand(2, 1, 32, 32) if encoder == "densenet121" else torch.rand(2, 24)
    with torch.no_grad():
        emb = net.embed(films)
    assert emb.shape == (2, 32 if encoder == "densenet121" else 24)
    x, _, age, has = _inputs(batch=2)
    with torch.no_grad():
        assert net(x, emb, age, has).logit.shape == (2,)


def test_embedding_encoder_rejects_wrong_width() -> None:
    net = FusionNet(NetConfig(n_inputs=N_INPUTS, cxr_encoder="embedding", embedding_dim=8))
    with pytest.raises(ModelError):
        net.embed(torch.rand(2, 9))


def test_unknown_arch_or_encoder_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="architecture"):
        FusionNet(NetConfig(n_inputs=N_INPUTS, arch="late"))
    with pytest.raises(ModelError, match="CXR encoder"):
        FusionNet(NetConfig(n_inputs=N_INPUTS, cxr_encoder="vit"))


def test_gate_is_exactly_zero_without_film_and_output_is_the_ehr_path() -> None:
    torch.manual_seed(1)
    net = FusionNet(NetConfig(n_inputs=N_INPUTS, lookback_h=12, hidden=16)).eval()
    x, film, age, has = _inputs(emb=64)
    film = film * 100.0  # garbage where there is no film must not leak through
    with torch.no_grad():
        out = net(x, film, age, has)
        ehr_only = net.head(net.ehr(x)).squeeze(1)
    no = has == 0
    assert torch.equal(out.gate[no], torch.zeros(int(no.sum())))
    assert torch.equal(out.logit[no], out.logit_ehr[no])  # bit for bit
    assert torch.equal(out.logit[no], ehr_only[no])
    assert (out.gate[~no] > 0).all()
    assert (out.gate[~no] < 1).all()
    assert not torch.equal(out.logit[~no], out.logit_ehr[~no])


def _pair(spec_vars: int, lookback: int = 48, seed: int = 1) -> torch.Tensor:
    """A patient and a reference with the same charting (channels past the values shared)."""
    g = torch.Generator().manual_seed(seed)
    pair = torch.randn(2, lookback, 3 * spec_vars + 2, generator=g)
    since = torch.rand(lookback, spec_vars, generator=g) * 1.6  # < 1: charted in the window
    pair[:, :, 2 * spec_vars : 3 * spec_vars] = since
    pair[1, :, spec_vars:] = pair[0, :, spec_vars:]
    return pair


@pytest.mark.parametrize(
    ("arch", "fusion", "bedside"),
    [
        ("gated", "hidden", "monotone"),
        ("gated", "residual", "monotone"),
        ("ehr_only", "hidden", "monotone"),
        ("concat", "hidden", "monotone"),
        ("gated", "hidden", ""),
        ("ehr_only", "hidden", ""),
        ("image_only", "hidden", ""),
    ],
)
def test_coalition_logits_equal_the_forward_pass_of_every_mixed_input(
    arch: str, fusion: str, bedside: str
) -> None:
    """The term-by-term evaluation of the Shapley coalitions, and of the patient with a film, is
    the full forward pass: every architecture, with and without the bedside head, random
    weights, random coalitions."""
    from model.features.spec import FeatureSpec
    from model.nets.fusion import FilmInput, _mixed

    spec = FeatureSpec(lookback_h=48, film_size=32)
    n_vars = len(spec.variables)
    torch.manual_seed(3)
    cfg = NetConfig(n_inputs=spec.n_inputs, arch=arch, fusion=fusion, hidden=16, cxr_dim=8,
                    cnn_width=4, bedside=bedside, variables=spec.variables)  # fmt: skip
    net = FusionNet(cfg).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    pair = _pair(n_vars)
    g = torch.Generator().manual_seed(4)
    groups = torch.randint(0, 7, (n_vars,), generator=g)  # each variable in one of 7 groups
    coalitions = (torch.arange(128)[:, None] >> torch.arange(7)) & 1
    keep = coalitions[:, groups].bool()  # (128, V)
    film = FilmInput(torch.randn(int(net.cxr.out_dim), generator=g), 0.3)  # type: ignore[arg-type]
    with torch.no_grad():
        fast, fused = net.coalition_logits(pair, keep, film)
        zeros = torch.zeros(len(keep))
        emb = torch.zeros(len(keep), int(net.cxr.out_dim))  # type: ignore[arg-type]
        full = net(_mixed(pair, keep), emb, zeros, zeros).logit
        with_film = net(pair[:1], *film.tensors())
        no_film, none = net.coalition_logits(pair, keep[:1])
    assert fast.shape == (128,)
    torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-5)
    assert fused is not None
    for got, want in zip(
        (fused.logit, fused.logit_ehr, fused.gate),
        (with_film.logit, with_film.logit_ehr, with_film.gate),
        strict=True,
    ):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(no_film, full[:1], rtol=1e-5, atol=1e-5)
    assert none is None


@pytest.mark.parametrize(
    ("arch", "fusion", "encoder"),
    [
        ("gated", "hidden", "gru"),
        ("gated", "residual", "gru"),
        ("ehr_only", "hidden", "gru"),
        ("concat", "hidden", "transformer"),
    ],
)
def test_the_traced_coalition_core_gives_what_the_eager_one_gives(
    arch: str, fusion: str, encoder: str
) -> None:
    """``prepare_serving`` traces the bedside head's coalition path; in inference it gives the
    eager logits and film output (random weights, 128 coalitions, sizes it was not traced at),
    is neither a submodule nor saved, and training still runs the eager, differentiable core."""
    from model.features.spec import FeatureSpec
    from model.nets.fusion import FilmInput

    spec = FeatureSpec(lookback_h=48, film_size=32)
    n_vars = len(spec.variables)
    torch.manual_seed(5)
    cfg = NetConfig(n_inputs=spec.n_inputs, arch=arch, fusion=fusion, hidden=16, cxr_dim=8,
                    cnn_width=4, bedside="monotone", variables=spec.variables,
                    ehr_encoder=encoder)  # fmt: skip
    net = FusionNet(cfg).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    keys = set(net.state_dict())
    g = torch.Generator().manual_seed(6)
    groups = torch.randint(0, 7, (n_vars,), generator=g)
    coalitions = (torch.arange(128)[:, None] >> torch.arange(7)) & 1
    film = FilmInput(torch.randn(int(net.cxr.out_dim), generator=g), 0.6)  # type: ignore[arg-type]
    answers = []
    for traced in (False, True):
        if traced:
            assert net.prepare_serving()
            assert net.traced
        for seed, keep in ((1, coalitions[:, groups].bool()), (2, coalitions[:3, groups].bool())):
            with torch.inference_mode():
                logits, fused = net.coalition_logits(_pair(n_vars, seed=seed), keep, film)
            assert fused is not None
            answers.append((logits, fused.logit, fused.logit_ehr, fused.gate))
    for eager, traced_answer in zip(answers[:2], answers[2:], strict=True):
        for want, got in zip(eager, traced_answer, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert set(net.state_dict()) == keys
    assert all(not isinstance(m, torch.jit.ScriptModule) for m in net.modules())
    net.train()
    logits, _ = net.coalition_logits(_pair(n_vars), coalitions[:4, groups].bool())
    assert logits.requires_grad  # the eager core: gradients flow


def test_a_core_that_cannot_be_traced_leaves_the_eager_one_serving(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Tracing that fails (a torch without TorchScript, an operation it cannot record) is logged
    and the eager core serves, with the same answer."""
    from model.features.spec import FeatureSpec

    spec = FeatureSpec(lookback_h=48, film_size=32)
    n_vars = len(spec.variables)
    torch.manual_seed(7)
    cfg = NetConfig(n_inputs=spec.n_inputs, hidden=16, cxr_dim=8, cnn_width=4,
                    bedside="monotone", variables=spec.variables)  # fmt: skip
    net = FusionNet(cfg).eval()
    keep = torch.rand(16, n_vars) > 0.5
    with torch.inference_mode():
        want, _ = net.coalition_logits(_pair(n_vars), keep)

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("tracing is not available")

    monkeypatch.setattr(torch.jit, "trace", refuse)
    with caplog.at_level("WARNING", logger="model.nets.serving"):
        assert not net.prepare_serving()
    assert not net.traced
    assert "eager kept: tracing is not available" in caplog.text
    with torch.inference_mode():
        got, _ = net.coalition_logits(_pair(n_vars), keep)
    torch.testing.assert_close(got, want)


def test_the_predictor_serves_with_the_traced_core() -> None:
    """``Predictor`` traces its network's coalition core on load (the bundled model)."""
    from model.predictor import Predictor

    predictor = Predictor.load()
    assert predictor._net.traced
