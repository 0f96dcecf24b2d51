"""``Predictor``: a loaded checkpoint serving ``PatientWindow`` -> ``RiskPrediction``.

Implements ``model.ports.RiskModel``. Uses exactly the feature code of training
(``model.features.grid``) and the film preprocessing of ``model.transforms``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from model import ModelError
from model.calibration import CardThresholds
from model.checkpoint import Checkpoint, ModelCard, load_checkpoint
from model.explain import Series, drivers_from_occlusion
from model.features.grid import build_grid, occlude, window_tensor
from model.features.spec import static_features
from model.schemas import ChestFilm, PatientWindow, RiskPrediction
from model.transforms import preprocess_film
from model.variables import BY_NAME

log = logging.getLogger(__name__)

BUNDLED_NAME = "default.pt"


def bundled_checkpoint_path() -> Path:
    """Path of the default checkpoint shipped inside the package."""
    return Path(str(resources.files("model") / "bundled" / BUNDLED_NAME))


@dataclass(frozen=True, slots=True)
class _EhrInput:
    x: np.ndarray  # (1, L, F)
    observed: tuple[int, ...]  # indices of variables seen in the window
    series: dict[str, Series]
    basis_ids: tuple[str, ...]


class Predictor:
    """A checkpoint ready to score windows; cheap to call, safe to share across threads."""

    def __init__(self, ckpt: Checkpoint) -> None:
        self._ckpt = ckpt
        self._net = ckpt.build_net()
        self._spec = ckpt.feature_spec
        self._norm = ckpt.normalisation
        self._cal = ckpt.calibration
        self._var_index = {name: i for i, name in enumerate(self._spec.variables)}
        self._stds = dict(zip(self._spec.variables, self._norm.std, strict=True))
        self._lo = np.asarray([BY_NAME[v].plausible_min for v in self._spec.variables])
        self._hi = np.asarray([BY_NAME[v].plausible_max for v in self._spec.variables])
        self.model_id: str = ckpt.model_id
        self.model_version: str = ckpt.model_version
        self.film_size: int = self._spec.film_size
        self.lookback_h: int = self._spec.lookback_h
        self.film_max_age_h: float = self._spec.film_max_age_h
        self.thresholds: CardThresholds = ckpt.thresholds
        self.card: ModelCard = ckpt.card
        self.embedding_id: str = f"{ckpt.model_id}:{ckpt.model_version}"

    @classmethod
    def load(cls, path: Path | None = None) -> Predictor:
        """Load a checkpoint (``None``: the bundled default model)."""
        target = path or bundled_checkpoint_path()
        if not target.exists():
            raise ModelError(f"checkpoint not found: {target}")
        predictor = cls(load_checkpoint(target))
        log.info("model loaded: %s %s from %s", predictor.model_id, predictor.model_version, target)
        return predictor

    @property
    def checkpoint(self) -> Checkpoint:
        return self._ckpt

    # -- films ------------------------------------------------------------------------------
    def _film_tensor(self, pixels: np.ndarray) -> torch.Tensor:
        arr = np.asarray(pixels, np.float32)
        if arr.shape != (1, self.film_size, self.film_size):
            arr = preprocess_film(arr, self.film_size)
        return torch.from_numpy(np.ascontiguousarray(arr))[None]

    @torch.no_grad()
    def embed_film(self, pixels: np.ndarray) -> tuple[float, ...]:
        """CXR-encoder embedding of a preprocessed film ``(1, S, S)`` (other shapes are
        preprocessed first)."""
        if self._ckpt.net_config.cxr_encoder == "embedding":
            raise ModelError("this model reads precomputed embeddings; it cannot embed pixels")
        emb = self._net.embed(self._film_tensor(pixels))[0]
        return tuple(float(v) for v in emb.tolist())

    def _select_film(self, window: PatientWindow) -> ChestFilm | None:
        max_age = timedelta(hours=self.film_max_age_h)
        eligible = [
            f
            for f in window.films
            if f.acquired_at <= window.as_of and window.as_of - f.acquired_at <= max_age
        ]
        usable = [f for f in eligible if self._film_embedding_ok(f) or f.pixels is not None]
        return max(usable, key=lambda f: f.acquired_at) if usable else None

    def _film_embedding_ok(self, film: ChestFilm) -> bool:
        if film.embedding is None or film.embedding_model not in ("", self.embedding_id):
            return False
        return len(film.embedding) == int(self._net.cxr.out_dim)  # type: ignore[arg-type]

    @torch.no_grad()
    def _film_features(self, film: ChestFilm) -> torch.Tensor:
        if self._film_embedding_ok(film):
            assert film.embedding is not None
            return torch.tensor([film.embedding], dtype=torch.float32)
        assert film.pixels is not None
        return self._net.embed(self._film_tensor(film.pixels))

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
        grid = build_grid(times, var, vals, lookback, len(self._spec.variables))
        static = static_features(window.static.age_years, window.static.sex, self._norm)
        x = window_tensor(grid, np.asarray([lookback - 1]), static[None], self._spec, self._norm)
        series: dict[str, Series] = {}
        order = np.argsort(times, kind="stable")
        observed = tuple(int(v) for v in np.unique(var))
        for idx in observed:
            sel = order[var[order] == idx]
            series[self._spec.variables[idx]] = Series(
                self._spec.variables[idx],
                tuple((lookback - times[sel]).tolist()),
                tuple(vals[sel].tolist()),
            )
        return _EhrInput(x, observed, series, tuple(dict.fromkeys(basis)))

    # -- prediction -------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, window: PatientWindow) -> RiskPrediction:
        """Risk of invasive ventilation within 24 h of ``window.as_of`` (no data after it)."""
        ehr = self._ehr_input(window)
        film = self._select_film(window) if self._net.uses_film else None
        n_vars = len(self._spec.variables)
        rows = [ehr.x[0]] + [occlude(ehr.x[0], v, n_vars) for v in ehr.observed]
        x = torch.from_numpy(np.stack(rows))
        batch = x.shape[0]
        if film is not None:
            emb = self._film_features(film).expand(batch, -1)
            age_h = (window.as_of - film.acquired_at).total_seconds() / 3600.0
            age = torch.full((batch,), age_h / self.film_max_age_h)
            has = torch.ones(batch)
        else:
            emb = torch.zeros(batch, int(self._net.cxr.out_dim))  # type: ignore[arg-type]
            age_h = None
            age = torch.zeros(batch)
            has = torch.zeros(batch)
        out = self._net(x, emb, age, has)
        probs = self._cal.apply(out.logit.numpy())
        p = float(probs[0])
        p_ehr = float(self._cal.apply(out.logit_ehr[:1].numpy())[0]) if film is not None else p
        names = [self._spec.variables[v] for v in ehr.observed]
        drivers = drivers_from_occlusion(names, p, probs[1:].tolist(), ehr.series, self._stds)
        basis = ehr.basis_ids + ((film.sop_instance_uid,) if film is not None else ())
        return RiskPrediction(
            patient_key=window.patient_key,
            as_of=window.as_of,
            probability=p,
            level=self.thresholds.level(p),
            model_id=self.model_id,
            model_version=self.model_version,
            image_weight=float(out.gate[0]) if film is not None else 0.0,
            film_age_h=age_h,
            film_sop_instance_uid=film.sop_instance_uid if film is not None else None,
            probability_without_film=p_ehr,
            drivers=drivers,
            basis_ids=basis,
        )
