"""The fusion network: EHR path, CXR path, context gate, heads, and the baselines.

``gated`` (DESIGN §3)::

    h_ehr = EHR(x)                 h_img = ReLU(P · CXR(film))
    g     = has_film · σ(MLP([h_ehr, h_img, film_age / max_age, has_film]))      (scalar)
    z     = h_ehr + g · (W · h_img)
    logit = head(z)                logit_ehr = head(h_ehr)

Without a film ``g`` is exactly 0, so ``z`` is ``h_ehr`` bit for bit and the fused logit equals the
EHR path. With ``fusion="residual"`` the film adds a gated residual to the EHR logit instead::

    logit = logit_ehr + g · R([h_ehr, h_img, film_age / max_age, has_film])

which is the form used when the EHR path is warm-started from an EHR-only model and frozen
(``TrainConfig.ehr_warm_start``): a window without a film then scores exactly as that model.

With ``bedside="monotone"`` (the default of ``ventfusion train``) a monotone additive head
``M(x)`` over the bedside indices (``model.nets.monotone``) is added to the EHR logit, and the
values of the bedside variables (``model.features.bedside.BEDSIDE_VARIABLES``) and every
charting mask / time since last are withheld from the EHR encoder, so the risk cannot fall when
they worsen, nor with how often a patient was charted::

    logit_ehr = head(EHR(x · keep)) + M(x)

Baselines in the same harness: ``ehr_only`` (head on h_ehr), ``concat``
(head on [h_ehr, has·h_img, has·age, has], no gate) and ``image_only`` (head on h_img, a learned
constant without a film).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from model import ModelError
from model.features.bedside import BEDSIDE_VARIABLES
from model.nets.encoders import (
    DenseNetEncoder,
    EmbeddingEncoder,
    GRUEncoder,
    SmallCNN,
    TransformerEncoder,
)
from model.nets.monotone import MonotoneHead, gru_keep_mask
from model.nets.serving import trace_coalition_core

ARCHS = ("gated", "concat", "ehr_only", "image_only")
CXR_ENCODERS = ("small_cnn", "densenet121", "embedding")
FUSIONS = ("hidden", "residual")
BEDSIDE_HEADS = ("", "monotone")


@dataclass(frozen=True, slots=True)
class NetConfig:
    """Everything needed to rebuild the network (saved in the checkpoint)."""

    n_inputs: int
    lookback_h: int = 48
    arch: str = "gated"
    ehr_encoder: str = "gru"  # gru | transformer
    hidden: int = 64
    ehr_layers: int = 1
    cxr_encoder: str = "small_cnn"  # small_cnn | densenet121 | embedding
    cxr_dim: int = 64  # CNN output width
    cnn_width: int = 16
    embedding_dim: int = 0  # for cxr_encoder == "embedding"
    gate_hidden: int = 32
    dropout: float = 0.1
    fusion: str = "hidden"  # gated: hidden (z = h_ehr + g·W·h_img) | residual (logit_ehr + g·R)
    bedside: str = ""  # "" none | "monotone": monotone bedside head, bedside values out of the GRU
    variables: tuple[str, ...] = ()  # the EHR variables in input order (needed by the bedside head)
    bedside_features: tuple[str, ...] = ()  # the bedside head's features (model.features.bedside)
    gru_withheld: tuple[str, ...] = ()  # variables whose values the EHR encoder does not read

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in _TUPLES:
            data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetConfig:
        data = dict(data)
        for name in _TUPLES:
            data[name] = tuple(data.get(name, ()))
        return cls(**data)


_TUPLES = ("variables", "bedside_features", "gru_withheld")


@dataclass(slots=True)
class NetOutput:
    logit: torch.Tensor  # (B,)
    logit_ehr: torch.Tensor  # (B,) the EHR path alone (equal to logit without a film)
    gate: torch.Tensor  # (B,) 0 without a film or for non-gated archs


def build_cxr_encoder(cfg: NetConfig) -> nn.Module:
    if cfg.cxr_encoder == "small_cnn":
        return SmallCNN(cfg.cxr_dim, cfg.cnn_width)
    if cfg.cxr_encoder == "densenet121":
        return DenseNetEncoder(cfg.cxr_dim)
    if cfg.cxr_encoder == "embedding":
        return EmbeddingEncoder(cfg.embedding_dim)
    raise ModelError(f"unknown CXR encoder {cfg.cxr_encoder!r}; choose from {CXR_ENCODERS}")


class FusionNet(nn.Module):
    """One class for the gated model and its baselines (``cfg.arch``)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        if cfg.arch not in ARCHS:
            raise ModelError(f"unknown architecture {cfg.arch!r}; choose from {ARCHS}")
        if cfg.fusion not in FUSIONS:
            raise ModelError(f"unknown fusion {cfg.fusion!r}; choose from {FUSIONS}")
        if cfg.bedside not in BEDSIDE_HEADS:
            raise ModelError(f"unknown bedside head {cfg.bedside!r}; choose from {BEDSIDE_HEADS}")
        if cfg.bedside and 3 * len(cfg.variables) + 2 != cfg.n_inputs:
            raise ModelError("the bedside head needs the model's variables (NetConfig.variables)")
        self.cfg = cfg
        d = cfg.hidden
        if cfg.ehr_encoder == "gru":
            self.ehr: nn.Module = GRUEncoder(cfg.n_inputs, d, cfg.ehr_layers)
        elif cfg.ehr_encoder == "transformer":
            self.ehr = TransformerEncoder(cfg.n_inputs, d, cfg.lookback_h, cfg.ehr_layers)
        else:
            raise ModelError(f"unknown EHR encoder {cfg.ehr_encoder!r}")
        self.cxr = build_cxr_encoder(cfg)
        cxr_out = int(self.cxr.out_dim)  # type: ignore[arg-type]
        self.proj = nn.Linear(cxr_out, d)
        self.drop = nn.Dropout(cfg.dropout)
        self.gate_mlp = nn.Sequential(
            nn.Linear(2 * d + 2, cfg.gate_hidden), nn.ReLU(), nn.Linear(cfg.gate_hidden, 1)
        )
        self.mix = nn.Linear(d, d, bias=False)
        head_in = 2 * d + 2 if cfg.arch == "concat" else d
        self.head = nn.Sequential(nn.Linear(head_in, d), nn.ReLU(), nn.Linear(d, 1))
        self.no_film_logit = nn.Parameter(torch.zeros(1))
        self.res_head: nn.Module | None = None
        if cfg.arch == "gated" and cfg.fusion == "residual":
            self.res_head = nn.Sequential(nn.Linear(2 * d + 2, d), nn.ReLU(), nn.Linear(d, 1))
        self.mono: MonotoneHead | None = None
        if cfg.bedside == "monotone" and cfg.arch != "image_only":
            self.mono = MonotoneHead(cfg.variables, cfg.bedside_features or None)
            withheld = cfg.gru_withheld or BEDSIDE_VARIABLES
            self.register_buffer(
                "gru_keep", gru_keep_mask(cfg.variables, cfg.n_inputs, withheld), persistent=False
            )
            #: Bit ``v`` set: the EHR encoder reads variable ``v``'s values.
            self._encoder_reads = sum(
                1 << v for v, name in enumerate(cfg.variables) if name not in withheld
            )
        #: What :meth:`prepare_serving` traced (kept out of the submodules and the state dict).
        self._traced_core: torch.jit.ScriptModule | None = None

    @property
    def traced(self) -> bool:
        """Whether :meth:`prepare_serving` traced the coalition core (inference runs it)."""
        return self._traced_core is not None

    @property
    def uses_ehr(self) -> bool:
        return self.cfg.arch != "image_only"

    @property
    def uses_film(self) -> bool:
        return self.cfg.arch != "ehr_only"

    def embed(self, films: torch.Tensor) -> torch.Tensor:
        """CXR-encoder output for films ``(N, 1, S, S)`` (or embeddings ``(N, E)``)."""
        return self.cxr(films)  # type: ignore[no-any-return]

    def coalition_logits(
        self, pair: torch.Tensor, keep: torch.Tensor, film: FilmInput | None = None
    ) -> tuple[torch.Tensor, NetOutput | None]:
        """No-film logits ``(C,)`` of the inputs that take variable ``v``'s value channel from
        ``pair[0]`` (the patient) where ``keep[c, v]`` and from ``pair[1]`` (a reference with the
        same charting times) elsewhere - exactly what :meth:`forward` gives on those inputs
        without a film, for ``C`` up to the ``2^k`` coalitions of the Shapley drivers - and,
        given a ``film``, the output of the patient with that film.

        The EHR encoder reads none of the bedside variables and the bedside head is a sum of
        terms each reading its own variables (``MonotoneHead.contributions``), so the encoder
        runs once per distinct set of the values it reads and each term once per distinct set of
        its own (31 rows instead of 128 on a 7-group window), and the film row reuses the
        patient's.
        Without a bedside head (or for the patient alone) every input is run.
        """
        n, n_vars = keep.shape
        if self.cfg.arch == "image_only":
            logits = self.forward(_mixed(pair, keep), *self._no_film(n, pair)).logit
            fused = None if film is None else self.forward(pair[:1], *film.tensors())
            return logits, fused
        if self.mono is None or n_vars > 62 or (n == 1 and bool(keep.all())):
            if not bool(keep[-1].all()):  # the last input must be the patient's
                keep = torch.cat([keep, keep.new_ones(1, n_vars)])
            rows = _mixed(pair, keep)
            hidden, bedside = self._encode_ehr(rows)
            logits = self._head(hidden, bedside, *self._no_film(len(rows), pair)).logit
            fused = None
            if film is not None:
                fused = self._head(hidden[-1:], bedside[-1:], *film.tensors())
            return logits[:n], fused
        bit = torch.tensor([1 << v for v in range(n_vars)], dtype=torch.long)
        every = int(bit.sum())  # the patient: every value is the patient's
        codes = torch.cat([keep.long() @ bit, torch.tensor([every])])  # (C + 1,)
        if self._traced_core is not None and not self.training and not torch.is_grad_enabled():
            logits, hidden, bedside = self._traced_core(pair, codes)
        else:
            logits, hidden, bedside = self._coalition_core(pair, codes)
        fused = None
        if film is not None:
            fused = self._head(hidden, bedside, *film.tensors())
        return logits[:n], fused

    def _coalition_core(
        self, pair: torch.Tensor, codes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """No-film logits ``(C,)`` of the inputs whose bit ``v`` of ``codes`` (the last: every
        bit, the patient) takes variable ``v``'s value from ``pair[0]``, with the patient's
        encoded EHR ``(1, H)`` and bedside logit ``(1,)``: the bedside head's path of
        :meth:`coalition_logits`. Tensor operations only, sizes read from the tensors, so that
        :meth:`prepare_serving` can trace it."""
        assert self.mono is not None
        n_vars = len(self.cfg.variables)
        every = (1 << n_vars) - 1
        read = self._encoder_reads
        encoder_codes, encoder_of = torch.unique(codes & read | every & ~read, return_inverse=True)
        rows = _mixed(pair, _bits(encoder_codes, n_vars))
        hidden = self.ehr(rows * self.gru_keep)  # type: ignore[operator]
        zero = torch.zeros_like(rows[:, 0, 0])
        film_emb = zero[:, None].expand(-1, int(self.cxr.out_dim))  # type: ignore[arg-type]
        base = self._head(hidden, zero, film_emb, zero, zero).logit
        masks = self.mono.input_masks
        term_codes, term_of = torch.unique(
            codes[:, None] & masks | every & ~masks, return_inverse=True
        )  # term_of (C + 1, n): the row of each input's term
        terms = self.mono.contributions(_mixed(pair, _bits(term_codes, n_vars)))
        bedside = terms.gather(0, term_of).sum(dim=1)
        logits = base[encoder_of] + bedside
        return logits, hidden[encoder_of[-1:]], bedside[-1:]

    def prepare_serving(self) -> bool:
        """Serve the coalitions with :meth:`_coalition_core` traced (``model.nets.serving``):
        True when traced, False (the eager core serves) for a network without the bedside head
        or when tracing fails. Call once the weights are final (``Predictor`` does, on load);
        training mode or gradients run the eager core."""
        if self.mono is None or self.cfg.arch == "image_only" or len(self.cfg.variables) > 62:
            return False
        traced = trace_coalition_core(self)
        if traced is None:
            return False
        self.__dict__["_traced_core"] = traced  # not a submodule: never trained, never saved
        return True

    def _no_film(
        self, n: int, like: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The film inputs of ``n`` rows without a film."""
        zeros = like.new_zeros(n)
        return like.new_zeros(n, int(self.cxr.out_dim)), zeros, zeros  # type: ignore[arg-type]

    def forward(
        self,
        x: torch.Tensor,
        film_emb: torch.Tensor,
        film_age: torch.Tensor,
        has_film: torch.Tensor,
    ) -> NetOutput:
        """``x`` (B, T, F); ``film_emb`` (B, E) (zeros where no film); ``film_age`` in units of
        the max age (0 where no film); ``has_film`` (B,) 0/1."""
        if self.cfg.arch == "image_only":
            batch = x.shape[0]
            zero = torch.zeros(batch, dtype=x.dtype, device=x.device)
            h_img = torch.relu(self.proj(film_emb))
            logit = torch.where(
                has_film.to(x.dtype) > 0,
                self.head(self.drop(h_img)).squeeze(1),
                self.no_film_logit.expand(batch),
            )
            return NetOutput(logit, self.no_film_logit.expand(batch), zero)
        h_ehr, bedside = self._encode_ehr(x)
        return self._head(h_ehr, bedside, film_emb, film_age, has_film)

    def _encode_ehr(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``h_ehr`` and the bedside head's output of ``x``."""
        if self.mono is None:
            return self.ehr(x), x.new_zeros(x.shape[0])
        return self.ehr(x * self.gru_keep), self.mono(x)  # type: ignore[operator]

    def _head(
        self,
        h_ehr: torch.Tensor,
        bedside: torch.Tensor,
        film_emb: torch.Tensor,
        film_age: torch.Tensor,
        has_film: torch.Tensor,
    ) -> NetOutput:
        """The output from the encoded EHR ``h_ehr``, the bedside logit and the film inputs."""
        zero = torch.zeros(h_ehr.shape[0], dtype=h_ehr.dtype, device=h_ehr.device)
        has = has_film.to(h_ehr.dtype)
        logit_ehr = (
            self.head(self.drop(h_ehr)).squeeze(1) + bedside if self.cfg.arch != "concat" else None
        )
        if self.cfg.arch == "ehr_only":
            assert logit_ehr is not None
            return NetOutput(logit_ehr, logit_ehr, zero)
        h_img = torch.relu(self.proj(film_emb)) * has[:, None]
        side = torch.stack([film_age * has, has], dim=1)
        if self.cfg.arch == "concat":
            logit = self.head(self.drop(torch.cat([h_ehr, h_img, side], dim=1))).squeeze(1)
            no_img = torch.cat([h_ehr, torch.zeros_like(h_img), torch.zeros_like(side)], dim=1)
            no_film = self.head(self.drop(no_img)).squeeze(1) + bedside
            return NetOutput(logit + bedside, no_film, zero)
        assert logit_ehr is not None
        gate = torch.sigmoid(self.gate_mlp(torch.cat([h_ehr, h_img, side], dim=1))).squeeze(1)
        gate = gate * has
        if self.res_head is not None:
            # The EHR logit is the base (frozen when warm-started): no dropout on it.
            logit_ehr = self.head(h_ehr).squeeze(1) + bedside
            feats = self.drop(torch.cat([h_ehr, h_img, side], dim=1))
            residual = self.res_head(feats).squeeze(1)
            logit = torch.where(has > 0, logit_ehr + gate * residual, logit_ehr)
            return NetOutput(logit, logit_ehr, gate)
        z = h_ehr + gate[:, None] * self.mix(h_img)
        logit = self.head(self.drop(z)).squeeze(1) + bedside
        return NetOutput(logit, logit_ehr, gate)


@dataclass(frozen=True, slots=True)
class FilmInput:
    """One film as the network reads it: its embedding ``(E,)`` and its age in units of the
    model's maximum film age."""

    embedding: torch.Tensor
    age: float

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``film_emb``, ``film_age`` and ``has_film`` of one row."""
        return self.embedding[None], torch.tensor([self.age]), torch.ones(1)


def _bits(codes: torch.Tensor, n_vars: int) -> torch.Tensor:
    """``(P, V)`` bool: bit ``v`` of each code."""
    return ((codes[:, None] >> torch.arange(n_vars)) & 1).bool()


def _mixed(pair: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """``(P, T, F)``: ``pair[0]`` with the value channel of every variable not in the pattern
    taken from ``pair[1]``."""
    n_vars = patterns.shape[1]
    x = pair[0].expand(patterns.shape[0], *pair.shape[1:]).clone()
    x[:, :, :n_vars] = torch.where(patterns[:, None, :], pair[0, :, :n_vars], pair[1, :, :n_vars])
    return x
