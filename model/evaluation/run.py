"""Evaluate checkpoints on a cohort: build the ``EvaluationContext`` and write the report."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model import ModelError
from model.backbone.cohort import cohort_backbone
from model.checkpoint import Checkpoint, load_checkpoint
from model.cohort import read_cohort
from model.evaluation.context import EvaluationContext, ReportSection
from model.evaluation.report import write_report
from model.features.dataset import WindowSet, build_windows, split_of
from model.features.grid import latest_raw
from model.training.batches import score_windows
from model.training.film_pretrain import embed_store, with_films

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    checkpoints: tuple[Path, ...]
    cohort: Path
    out_dir: Path
    split: str = "all"  # all | train | val | test (patient split stored in the first checkpoint)
    n_boot: int = 500
    seed: int = 0
    comparators: bool = True
    command: str = ""
    ceiling_train: Path | None = None  # simulator training cohort: adds the observable ceiling


def _names(ckpts: Sequence[Checkpoint]) -> list[str]:
    names: list[str] = []
    for c in ckpts:
        base = c.net_config.arch
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def _rows(windows: WindowSet, ckpt: Checkpoint, split: str) -> np.ndarray:
    if split == "all":
        return np.arange(len(windows), dtype=np.int64)
    tc = ckpt.train_config
    seed = int(tc.get("seed", 0))
    val_f, test_f = float(tc.get("val_fraction", 0.2)), float(tc.get("test_fraction", 0.0))
    per_patient = np.asarray([split_of(k, seed, val_f, test_f) for k in windows.patient_keys])
    return np.flatnonzero(per_patient[windows.patient] == split).astype(np.int64)


def require_cohort_backbone(ckpt: Checkpoint, cohort: Any) -> None:
    """A model on a film backbone is evaluated only on films embedded by that backbone."""
    if ckpt.net_config.cxr_encoder != "embedding":
        return
    found = cohort_backbone(cohort.meta)
    if ckpt.backbone is not None and not ckpt.backbone.same_backbone(found):
        raise ModelError(
            f"{ckpt.model_id} {ckpt.model_version} reads embeddings of the film backbone "
            f"{ckpt.backbone.label}; the cohort {cohort.root} was embedded by "
            + (found.label if found else "an unrecorded backbone")
            + ": embed it with the same backbone (ventfusion embed-films)"
        )


def _record_hours(cohort: Any, keys: np.ndarray) -> np.ndarray:
    """Per window: hours from its patient's stay start to the end of the record."""
    length = {p.key: (p.stay_end - p.stay_start).total_seconds() / 3600.0 for p in cohort.patients}
    return np.asarray([length.get(str(k), np.nan) for k in keys], np.float64)


def build_context(
    ckpts: Sequence[Checkpoint], cohort_dir: Path, split: str, n_boot: int, seed: int
) -> EvaluationContext:
    """Score every window of the split with every checkpoint (one window build per feature
    spec) and assemble the evaluation context."""
    if not ckpts:
        raise ModelError("evaluation needs at least one checkpoint")
    cohort = read_cohort(cohort_dir)
    names = _names(ckpts)
    primary = "gated" if "gated" in names else names[0]
    by_spec: dict[Any, WindowSet] = {}
    scores: dict[str, np.ndarray] = {}
    without: dict[str, np.ndarray] = {}
    gates: dict[str, np.ndarray] = {}
    models: dict[str, dict[str, Any]] = {}
    rows: np.ndarray | None = None
    base: WindowSet | None = None
    for name, ckpt in zip(names, ckpts, strict=True):
        spec = ckpt.feature_spec
        if spec not in by_spec:
            by_spec[spec] = build_windows(cohort, spec)
        windows = by_spec[spec]
        if rows is None:
            rows = _rows(windows, ckpts[names.index(primary)], split)
        if name == primary or base is None:
            base = windows
        net = ckpt.build_net()
        if net.uses_film:
            require_cohort_backbone(ckpt, cohort)
        if net.uses_film and not windows.films.is_embedding:
            windows = with_films(windows, embed_store(net, windows.films))  # each film once
        s = score_windows(net, windows, rows, ckpt.normalisation)
        scores[name] = ckpt.calibration.apply(s.logit, windows.film[rows] >= 0)
        without[name] = ckpt.calibration.apply_ehr(s.logit_ehr)
        gates[name] = s.gate.astype(np.float64)
        models[name] = {
            "model_id": ckpt.model_id,
            "model_version": ckpt.model_version,
            "arch": ckpt.net_config.arch,
            "cxr_encoder": ckpt.net_config.cxr_encoder,
            "thresholds": ckpt.thresholds.to_dict(),
        }
    assert rows is not None
    assert base is not None
    w = base.subset(rows)
    keys = np.asarray(w.patient_keys, dtype=object)[w.patient].astype(str)
    raw = latest_raw(w.grid, w.end_bin, w.spec.lookback_h)
    return EvaluationContext(
        cohort=str(cohort.meta.get("name", cohort_dir.name)),
        synthetic=cohort.synthetic,
        split=split,
        patient_ids=keys,
        times=w.time,
        hours=w.hours,
        vent_hours=w.vent_hours,
        labels=w.label.astype(np.int64),
        oracle=w.oracle.astype(np.float64),
        film_present=w.film >= 0,
        film_age_h=w.film_age_h.astype(np.float64),
        phenotype=np.asarray(w.phenotype, dtype=object)[w.patient].astype(str),
        ehr_ambiguous=w.ehr_ambiguous[w.patient].astype(np.float64),
        latest={v: raw[:, i].astype(np.float64) for i, v in enumerate(w.spec.variables)},
        scores=scores,
        scores_without_film=without,
        gates=gates,
        models=models,
        primary=primary,
        reference="ehr_only" if "ehr_only" in names else "",
        n_boot=n_boot,
        seed=seed,
        record_hours=_record_hours(cohort, keys),
    )


def evaluate(
    request: EvaluationRequest, extra_sections: Sequence[ReportSection] = ()
) -> dict[str, Any]:
    """Run the evaluation and write ``report.json``, ``report.md`` and PNGs to ``out_dir``."""
    ckpts = [load_checkpoint(p) for p in request.checkpoints]
    ctx = build_context(ckpts, request.cohort, request.split, request.n_boot, request.seed)
    log.info("evaluating %d models on %d windows", len(ckpts), len(ctx))
    sections = list(extra_sections)
    if request.comparators:
        from model.evaluation.sections_comparators import ComparatorSection

        sections.append(ComparatorSection())
    from model.evaluation.sections_ceiling import BedsideIndexSection, CeilingSection

    sections.append(BedsideIndexSection())
    if request.ceiling_train is not None:
        spec = next((c.feature_spec for c in ckpts if c.net_config.arch == "gated"), None)
        sections.append(
            CeilingSection(request.ceiling_train, request.cohort, spec or ckpts[0].feature_spec)
        )
    return write_report(ctx, request.out_dir, extra_sections=sections, command=request.command)
