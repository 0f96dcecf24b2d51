"""Cohort directory -> trained, calibrated checkpoint (what ``ventfusion train`` runs)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from model import ModelError
from model.applicability.fit import fit_applicability
from model.backbone.cohort import cohort_backbone
from model.calibration import choose_thresholds, fit_fusion_platt, fit_platt
from model.checkpoint import DATA_LIMITATION, Checkpoint, ModelCard, save_checkpoint
from model.cohort import Cohort, read_cohort
from model.evaluation.metrics import auprc, auroc, brier, expected_calibration_error
from model.features.dataset import WindowSet, build_windows, fit_on_split, split_of
from model.features.spec import FeatureSpec, Normalisation
from model.nets import FusionNet, NetConfig
from model.nets.monotone import bedside_text, default_bedside
from model.schemas import BackboneIdentity
from model.training.batches import score_windows
from model.training.cohort_checks import check_trainable
from model.training.film_pretrain import (
    embed_store,
    film_targets,
    finding_targets,
    pretrain_film_encoder,
    with_films,
)
from model.training.loop import ProgressFn, TrainConfig, Trainer, new_net, train_net
from model.training.warm_start import warm_start_ehr

log = logging.getLogger(__name__)

PACKAGE_VERSION = "0.1.0"
ARCH_TITLES = {
    "gated": "gated EHR + chest-film fusion",
    "concat": "concatenation fusion (no gate)",
    "ehr_only": "EHR-only",
    "image_only": "chest-film only",
}
LIMITATIONS = [
    "Not a medical device; decision support for clinicians, never an autonomous decision.",
    "Inputs outside the plausible range of a variable are dropped as artifacts.",
    "Films older than the configured maximum age, or acquired after the prediction time, are "
    "ignored; without a film the score is the EHR path alone.",
    "A film unlike the training films (applicability guard, 1% false rejections on validation "
    "films) is not used; windows with values or charting beyond the training data are flagged.",
]


@dataclass(slots=True)
class SplitRows:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_rows(windows: WindowSet, cfg: TrainConfig) -> SplitRows:
    """Window rows of each patient-level split."""
    names = np.asarray(
        [split_of(k, cfg.seed, cfg.val_fraction, cfg.test_fraction) for k in windows.patient_keys]
    )
    per_window = names[windows.patient] if len(windows) else np.zeros(0, str)
    return SplitRows(
        *(np.flatnonzero(per_window == s).astype(np.int64) for s in ("train", "val", "test"))
    )


def _pretrain_films(
    cohort: Cohort, windows: WindowSet, rows: SplitRows, net: FusionNet, cfg: TrainConfig
) -> tuple[dict[str, float], WindowSet]:
    """Stage 1 on the films of training (fit) and validation (selection) patients; returns
    its metrics and the windows reading cached embeddings."""
    films = windows.films
    targets, usable = film_targets(cohort, films)
    key_split = {windows.patient_keys[p]: "train" for p in np.unique(windows.patient[rows.train])}
    key_split.update({windows.patient_keys[p]: "val" for p in np.unique(windows.patient[rows.val])})
    split = np.asarray([key_split.get(k, "") for k in films.keys])
    train_idx = np.flatnonzero(usable & (split == "train"))
    val_idx = np.flatnonzero(usable & (split == "val"))
    log.info("stage 1: CXR encoder on %d films (%d for validation)", len(train_idx), len(val_idx))
    metrics = pretrain_film_encoder(
        net,
        films,
        targets,
        train_idx,
        val_idx,
        epochs=cfg.film_epochs,
        batch_size=cfg.film_batch_size,
        lr=cfg.lr,
        seed=cfg.seed,
        findings=finding_targets(cohort, films) if cfg.film_finding_weight > 0 else None,
        finding_weight=cfg.film_finding_weight,
    )
    log.info("stage 1 done: %s", metrics)
    return metrics, with_films(windows, embed_store(net, films))


def _embedding_backbone(
    cohort: Cohort, windows: WindowSet, net_cfg: NetConfig
) -> BackboneIdentity | None:
    """The film backbone of an embedding cohort (recorded in the checkpoint), checked."""
    if net_cfg.cxr_encoder != "embedding":
        return None
    if not windows.films.is_embedding:
        raise ModelError(
            f"--cxr-encoder embedding needs a cohort of embeddings; {cohort.root} has image "
            "films: run `ventfusion embed-films --cohort ... --backbone MANIFEST` first"
        )
    backbone = cohort_backbone(cohort.meta)
    if backbone is None:
        log.warning(
            "%s does not say which backbone made its embeddings: the checkpoint records none "
            "and cannot check the films it is given (use ventfusion embed-films)",
            cohort.root,
        )
    return backbone


def _version(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().numpy().tobytes())
    return f"{PACKAGE_VERSION}+{digest.hexdigest()[:8]}"


def _cxr_text(net_cfg: NetConfig, spec: FeatureSpec, backbone: BackboneIdentity | None) -> str:
    if backbone is not None:
        return (
            f"CXR encoder: {net_cfg.embedding_dim}-d embeddings of the film backbone "
            f"{backbone.label} (sha256 {backbone.sha256[:12]}…)"
        )
    if net_cfg.cxr_encoder == "embedding":
        return f"CXR encoder: {net_cfg.embedding_dim}-d precomputed embeddings"
    return f"CXR encoder {net_cfg.cxr_encoder} at {spec.film_size} px"


def train_from_cohort(
    cohort_dir: Path,
    out: Path,
    *,
    spec: FeatureSpec,
    net_overrides: dict[str, object] | None = None,
    cfg: TrainConfig,
    on_epoch: ProgressFn | None = None,
    trainer: Trainer = train_net,
) -> Checkpoint:
    """Build windows, split by patient, fit normalisation on train, train, calibrate on
    validation, choose card thresholds, write the checkpoint to ``out`` and return it.

    ``trainer`` runs stage 2 (``train_net``; ``model.training.distributed`` passes its DDP twin).
    """
    cohort = read_cohort(cohort_dir)
    windows = build_windows(cohort, spec)
    rows = split_rows(windows, cfg)
    net_cfg = NetConfig(n_inputs=spec.n_inputs, lookback_h=spec.lookback_h)
    net_cfg = replace(net_cfg, **default_bedside(spec.variables))  # type: ignore[arg-type]
    if windows.films.is_embedding:
        net_cfg = replace(
            net_cfg, cxr_encoder="embedding", embedding_dim=int(windows.films.data.shape[1])
        )
    net_cfg = replace(net_cfg, **dict(net_overrides or {}))  # type: ignore[arg-type]
    backbone = _embedding_backbone(cohort, windows, net_cfg)
    check_trainable(cohort, windows, rows.train, rows.val)
    train_keys = {windows.patient_keys[p] for p in np.unique(windows.patient[rows.train])}
    norm: Normalisation = fit_on_split(cohort, windows, train_keys)
    log.info(
        "windows: %d train, %d val, %d test (%d train patients)",
        len(rows.train),
        len(rows.val),
        len(rows.test),
        len(train_keys),
    )
    net = new_net(net_cfg, cfg)
    if cfg.ehr_warm_start:
        norm = warm_start_ehr(net, Path(cfg.ehr_warm_start), spec, cfg)
    if net.mono is not None:
        net.mono.set_normalisation(norm.mean, norm.std)
    film_metrics: dict[str, float] = {}
    films_as_loaded = windows.films  # pixels (stage 1 swaps in embeddings): the film guard's input
    if net.uses_film and net_cfg.cxr_encoder != "embedding" and cfg.film_epochs > 0:
        film_metrics, windows = _pretrain_films(cohort, windows, rows, net, cfg)
    result = trainer(windows, norm, net, cfg, rows.train, rows.val, on_epoch)
    val = score_windows(result.net, windows, rows.val, norm)
    labels = windows.label[rows.val]
    has_film = (windows.film[rows.val] >= 0).astype(np.float64)
    fusion = net_cfg.arch in ("gated", "concat") and has_film.any() and not has_film.all()
    calibration = (
        fit_fusion_platt(val.logit, val.logit_ehr, has_film, labels)
        if fusion
        else fit_platt(val.logit, labels)
    )
    probs = calibration.apply(val.logit, has_film)
    thresholds = choose_thresholds(probs, labels)
    applicability = fit_applicability(
        cohort, windows, films_as_loaded, result.net, rows.train, rows.val
    )
    state = {k: v.detach().clone() for k, v in result.net.state_dict().items()}
    version = _version(state)
    model_id = f"ventfusion-{net_cfg.arch.replace('_', '-')}"
    synthetic = cohort.synthetic
    card = ModelCard(
        model_id=model_id,
        model_version=version,
        architecture=(
            f"{ARCH_TITLES[net_cfg.arch]}; EHR encoder {net_cfg.ehr_encoder} (hidden "
            f"{net_cfg.hidden}); "
            + _cxr_text(net_cfg, spec, backbone)
            + bedside_text(net_cfg.bedside)
            + (
                "; EHR path warm-started from an EHR-only model and frozen, film as a gated "
                "residual"
                if cfg.ehr_warm_start
                else ""
            )
        ),
        intended_use=(
            "Estimate, for an adult ICU patient, the probability of invasive mechanical "
            "ventilation within the next 24 hours, to prompt a clinician's review."
        ),
        training_data=(
            f"{'synthetic' if synthetic else 'site'} cohort "
            f"{cohort.meta.get('name', cohort_dir.name)}"
            f" ({len(train_keys)} training patients, {len(rows.train)} hourly windows; "
            f"seed {cohort.meta.get('seed', 'n/a')})"
        ),
        synthetic=synthetic,
        metrics={
            "val_auroc": auroc(labels, probs),
            "val_auprc": auprc(labels, probs),
            "val_brier": brier(labels, probs),
            "val_ece": expected_calibration_error(labels, probs),
            "val_windows": float(len(labels)),
            "val_prevalence": float(labels.mean()) if len(labels) else float("nan"),
            **film_metrics,
        },
        limitations=[DATA_LIMITATION[synthetic], *LIMITATIONS]
        + (
            [
                f"Films are read by the site's backbone {backbone.label} (sha256 "
                f"{backbone.sha256[:12]}…); a film embedded by any other backbone is not used."
            ]
            if backbone
            else []
        ),
        created=datetime.now(UTC).replace(microsecond=0).isoformat(),
    )
    ckpt = Checkpoint(
        model_id=model_id,
        model_version=version,
        net_config=net_cfg,
        feature_spec=spec,
        normalisation=norm,
        calibration=calibration,
        thresholds=thresholds,
        card=card,
        state_dict=state,
        train_config={**cfg.to_dict(), "best_epoch": result.best_epoch},
        history=[
            {"epoch": r.epoch, "train_loss": r.train_loss, "val_auroc": r.val_auroc}
            for r in result.history
        ],
        applicability=applicability,
        backbone=backbone,
    )
    save_checkpoint(ckpt, out)
    log.info("checkpoint written: %s (%s %s)", out, model_id, version)
    return ckpt
