"""``Predictor``: a loaded checkpoint serving ``PatientWindow`` -> ``RiskPrediction``.

Implements ``model.ports.RiskModel``. Uses exactly the feature code of training
(``model.features.grid``) and the film preprocessing of ``model.transforms``; films pass the
checkpoint's applicability guard (``model.film_choice``), windows are checked against the
training data's ranges and flagged, and drivers are exact Shapley values (``model.shapley``).
A checkpoint trained on a site's film backbone (``model.backbone``) embeds films with that
backbone, and only with it: a different one is refused at load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from model import ModelError
from model.applicability.ehr import window_coverage
from model.applicability.stats import ApplicabilityStats
from model.backbone.runtime import Backbone, check_backbone
from model.calibration import CardThresholds
from model.checkpoint import Checkpoint, ModelCard, load_checkpoint
from model.explain import Series, shapley_drivers
from model.features.grid import build_grid, stack_grids, window_tensor
from model.features.spec import static_features
from model.film_choice import FilmChoice, choose_film
from model.nets.fusion import FilmInput
from model.schemas import EhrFlag, FilmEmbedding, PatientWindow, RiskPrediction
from model.shapley import coalitions, players, reference_values, shapley_values
from model.transforms import preprocess_film
from model.variables import BY_NAME

log = logging.getLogger(__name__)

BUNDLED_NAME = "default.pt"


def bundled_checkpoint_path() -> Path:
    """Path of the default checkpoint shipped inside the package."""
    return Path(str(resources.files("model") / "bundled" / BUNDLED_NAME))


@dataclass(frozen=True, slots=True)
class _EhrInput:
    """The window's plausible measurements (hours after the window start, variable index, value)."""

    times: np.ndarray
    var: np.ndarray
    vals: np.ndarray
    static: np.ndarray  # (2,)
    series: dict[str, Series]
    basis_ids: tuple[str, ...]


class Predictor:
    """A checkpoint ready to score windows; cheap to call, safe to share across threads."""

    def __init__(self, ckpt: Checkpoint, backbone: Backbone | None = None) -> None:
        check_backbone(
            ckpt.backbone,
            backbone,
            f"{ckpt.model_id} {ckpt.model_version}",
            ckpt.net_config.embedding_dim,
        )
        self._ckpt = ckpt
        self._backbone = backbone
        self._net = ckpt.build_net()
        self._net.prepare_serving()  # the coalitions traced (FusionNet.prepare_serving)
        self._spec = ckpt.feature_spec
        self._norm = ckpt.normalisation
        self._cal = ckpt.calibration
        self._var_index = {name: i for i, name in enumerate(self._spec.variables)}
        self._stds = dict(zip(self._spec.variables, self._norm.std, strict=True))
        self._lo = np.asarray([BY_NAME[v].plausible_min for v in self._spec.variables])
        self._hi = np.asarray([BY_NAME[v].plausible_max for v in self._spec.variables])
        self.model_id: str = ckpt.model_id
        self.model_version: str = ckpt.model_version
        self.film_size: int = backbone.input_size if backbone else self._spec.film_size
        self.lookback_h: int = self._spec.lookback_h
        self.film_max_age_h: float = self._spec.film_max_age_h
        self.thresholds: CardThresholds = ckpt.thresholds
        self.card: ModelCard = ckpt.card
        self.backbone = ckpt.backbone  # the film backbone the model was trained on, if any
        self.embedding_id: str = (
            f"backbone:{ckpt.backbone.key}"
            if ckpt.backbone
            else f"{ckpt.model_id}:{ckpt.model_version}"
        )
        self._guard: ApplicabilityStats | None = ckpt.applicability

    @classmethod
    def load(cls, path: Path | None = None, *, backbone: Backbone | None = None) -> Predictor:
        """Load a checkpoint (``None``: the bundled default model), with the film backbone it
        was trained on when it reads a site's backbone embeddings."""
        target = path or bundled_checkpoint_path()
        if not target.exists():
            raise ModelError(f"checkpoint not found: {target}")
        predictor = cls(load_checkpoint(target), backbone)
        log.info("model loaded: %s %s from %s", predictor.model_id, predictor.model_version, target)
        return predictor

    @property
    def checkpoint(self) -> Checkpoint:
        return self._ckpt

    # -- films ------------------------------------------------------------------------------
    def _film_array(self, pixels: np.ndarray) -> np.ndarray:
        arr = np.asarray(pixels, np.float32)
        if arr.shape != (1, self.film_size, self.film_size):
            arr = preprocess_film(arr, self.film_size)
        return np.ascontiguousarray(arr)

    @torch.no_grad()
    def _embed_array(self, pixels: np.ndarray) -> np.ndarray:
        emb: np.ndarray = self._net.embed(torch.from_numpy(pixels)[None])[0].numpy()
        return emb

    def _backbone_embed(self, pixels: np.ndarray) -> np.ndarray:
        assert self._backbone is not None
        out: np.ndarray = self._backbone.embed(pixels[None])[0]
        return out

    @property
    def _embedder(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """What embeds a prepared film: the CXR encoder, the film backbone, or nothing."""
        if self._ckpt.net_config.cxr_encoder != "embedding":
            return self._embed_array
        return self._backbone_embed if self._backbone is not None else None

    def embed_film(self, pixels: np.ndarray) -> tuple[float, ...]:
        """CXR-encoder (or film-backbone) embedding of a preprocessed film ``(1, S, S)``
        (other shapes are preprocessed first)."""
        embed = self._embedder
        if embed is None:
            raise ModelError(
                "this model reads precomputed embeddings"
                + (
                    f" of the film backbone {self.backbone.label}, which is not configured"
                    if self.backbone
                    else ""
                )
                + "; it cannot embed pixels"
            )
        return tuple(float(v) for v in embed(self._film_array(pixels)).tolist())

    def film_embedding(self, pixels: np.ndarray) -> FilmEmbedding:
        """The embedding of a film with who made it (what ingest stores with the film)."""
        return FilmEmbedding(
            values=self.embed_film(pixels),
            embedding_model=self.embedding_id,
            backbone=self.backbone,
        )

    def _choose_film(self, window: PatientWindow) -> FilmChoice:
        if not self._net.uses_film:
            return FilmChoice()
        return choose_film(
            window,
            max_age_h=self.film_max_age_h,
            embedding_id=self.embedding_id,
            embedding_dim=int(self._net.cxr.out_dim),  # type: ignore[arg-type]
            prepare=self._film_array,
            embed=self._embedder,
            guard=self._guard.film if self._guard else None,
            backbone=self.backbone,
        )

    # -- EHR --------------------------------------------------------------------------------
    def _ehr_input(self, window: PatientWindow) -> _EhrInput:
        lookback = self.lookback_h
        origin = window.as_of - timedelta(hours=lookback)
        chosen = [
            m
            for m in window.measurements
            if m.variable in self._var_index and origin < m.time <= window.as_of
        ]
        var = np.asarray([self._var_index[m.variable] for m in chosen], np.int64)
        vals = np.asarray([m.value for m in chosen], np.float64)
        times = np.asarray([(m.time - origin).total_seconds() for m in chosen]) / 3600.0
        ok = (vals >= self._lo[var]) & (vals <= self._hi[var]) & np.isfinite(vals)
        var, vals, times = var[ok], vals[ok], times[ok]
        basis = [m.source_id for m, keep in zip(chosen, ok, strict=True) if keep and m.source_id]
        static = static_features(window.static.age_years, window.static.sex, self._norm)
        series: dict[str, Series] = {}
        order = np.argsort(times, kind="stable")
        for idx in np.unique(var).tolist():
            sel = order[var[order] == idx]
            series[self._spec.variables[idx]] = Series(
                self._spec.variables[idx],
                tuple((lookback - times[sel]).tolist()),
                tuple(vals[sel].tolist()),
            )
        return _EhrInput(times, var, vals, static, series, tuple(dict.fromkeys(basis)))

    def _coalition_inputs(
        self, ehr: _EhrInput, groups: list[tuple[str, tuple[str, ...]]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The EHR tensors of the patient and of the reference patient ``(2, L, F)``, which
        variables each coalition keeps the patient's values of ``(2^k, V)`` (row ``c``: those of
        the groups whose bit is set in ``c``; the others take normal values) and the patient's
        observed-bin mask ``(L, V)``."""
        n_vars, lookback = len(self._spec.variables), self.lookback_h
        patient = build_grid(ehr.times, ehr.var, ehr.vals, lookback, n_vars)
        ref_vals = reference_values(ehr.var, ehr.vals, list(self._spec.variables))
        reference = build_grid(ehr.times, ehr.var, ref_vals, lookback, n_vars)
        member = np.zeros((len(groups), n_vars), bool)
        for g, (_, names) in enumerate(groups):
            member[g, [self._var_index[n] for n in names]] = True
        keep = coalitions(len(groups)).astype(np.int64) @ member.astype(np.int64) > 0  # (C, V)
        if not groups:  # no drivers asked for (or nothing charted): the one row is the patient
            keep = np.ones((1, n_vars), bool)
        # The patient and the reference share charting times, so their windows differ only in
        # the value channels (the first V features), column by column: every coalition's input
        # picks each variable's value channel from one of the two (exactly what a grid of mixed
        # values would give; ``FusionNet.coalition_logits``).
        both, offsets = stack_grids([patient, reference])
        static = np.repeat(ehr.static[None], 2, axis=0)
        pair = window_tensor(both, offsets + lookback - 1, static, self._spec, self._norm)
        return pair, keep, patient.observed

    # -- prediction -------------------------------------------------------------------------
    @torch.inference_mode()
    def predict(self, window: PatientWindow, *, explain: bool = True) -> RiskPrediction:
        """Risk of invasive ventilation within 24 h of ``window.as_of`` (no data after it).

        Every coalition of the observed variable groups is scored without a film (the exact
        Shapley drivers against the reference patient, ``model.shapley``;
        ``FusionNet.coalition_logits``) and, when a film passes the applicability guard, the
        patient with the film. ``explain=False`` skips the drivers (one EHR row; no reference
        probability).
        """
        ehr = self._ehr_input(window)
        groups = players(list(ehr.series)) if self._net.uses_ehr and explain else []
        pair, keep, observed = self._coalition_inputs(ehr, groups)
        choice = self._choose_film(window)
        film_input = None
        age_h = None
        if choice.film is not None and choice.embedding is not None:
            age_h = (window.as_of - choice.film.acquired_at).total_seconds() / 3600.0
            embedding = torch.as_tensor(choice.embedding, dtype=torch.float32)
            film_input = FilmInput(embedding, age_h / self.film_max_age_h)
        logits, fused = self._net.coalition_logits(
            torch.from_numpy(pair), torch.from_numpy(keep), film_input
        )
        has = np.zeros(len(logits), np.float32)
        gate = 0.0
        if fused is not None:
            logits = torch.cat([logits, fused.logit])
            gate = float(fused.gate[0])
            has = np.append(has, np.float32(1.0))
        probs = self._cal.apply(logits.numpy(), has)  # film row: the fused map
        n_coalitions = 2 ** len(groups)
        p_ehr, p_ref = float(probs[n_coalitions - 1]), float(probs[0])
        p = float(probs[-1])
        drivers = shapley_drivers(
            groups, shapley_values(probs[:n_coalitions]).tolist(), ehr.series, self._stds
        )
        film = choice.film
        basis = ehr.basis_ids + ((film.sop_instance_uid,) if film is not None else ())
        return RiskPrediction(
            patient_key=window.patient_key,
            as_of=window.as_of,
            probability=p,
            level=self.thresholds.level(p),
            model_id=self.model_id,
            model_version=self.model_version,
            image_weight=gate,
            film_age_h=age_h,
            film_sop_instance_uid=film.sop_instance_uid if film is not None else None,
            probability_without_film=p_ehr,
            drivers=drivers,
            basis_ids=basis,
            reference_probability=p_ref if explain else None,
            film_not_used=choice.not_used,
            ehr_flags=self._ehr_flags(ehr, observed),
        )

    def _ehr_flags(self, ehr: _EhrInput, observed: np.ndarray) -> tuple[EhrFlag, ...]:
        if self._guard is None:
            return ()
        history_h, n_charted = window_coverage(observed)
        values = {name: np.asarray(s.values) for name, s in ehr.series.items()}
        return self._guard.ehr.check(values, history_h, n_charted)
