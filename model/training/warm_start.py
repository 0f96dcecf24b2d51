"""Warm-start the EHR path of a gated model from a trained EHR-only model, then freeze it.

The gated net then learns only the film side (projection, gate, residual head): a window without
a film scores exactly as the EHR-only model, and the film can only add a gated correction.
"""

from __future__ import annotations

import logging
from pathlib import Path

from model import ModelError
from model.checkpoint import load_checkpoint
from model.features.spec import FeatureSpec, Normalisation
from model.nets import FusionNet
from model.training.loop import TrainConfig

log = logging.getLogger(__name__)

#: Prefixes of the state-dict entries that make up the EHR path (encoder, head, bedside head).
EHR_PATH = ("ehr.", "head.", "mono.")
#: Settings that must match so that the EHR-only model saw the same training patients.
SPLIT_KEYS = ("seed", "val_fraction", "test_fraction")


def warm_start_ehr(
    net: FusionNet, path: Path, spec: FeatureSpec, cfg: TrainConfig
) -> Normalisation:
    """Copy the EHR encoder and head of the EHR-only checkpoint at ``path`` into ``net`` (a
    gated net), freeze them, and return that checkpoint's normalisation (to be used instead of
    a freshly fitted one). Raises ``ModelError`` when the checkpoint does not fit."""
    if net.cfg.arch != "gated":
        raise ModelError(f"EHR warm start needs the gated architecture, not {net.cfg.arch!r}")
    src = load_checkpoint(path)
    sc, nc = src.net_config, net.cfg
    if sc.arch != "ehr_only":
        raise ModelError(f"{path}: EHR warm start needs an ehr_only checkpoint, not {sc.arch!r}")
    for name in ("n_inputs", "lookback_h", "ehr_encoder", "hidden", "ehr_layers", "bedside",
                 "bedside_features", "gru_withheld"):  # fmt: skip
        if getattr(sc, name) != getattr(nc, name):
            raise ModelError(f"{path}: {name} {getattr(sc, name)!r} != {getattr(nc, name)!r}")
    if src.feature_spec.variables != spec.variables:
        raise ModelError(f"{path}: trained on other variables")
    for name in SPLIT_KEYS:
        if src.train_config.get(name) != getattr(cfg, name):
            raise ModelError(
                f"{path}: {name} {src.train_config.get(name)!r} != {getattr(cfg, name)!r}; "
                "the EHR-only model must be trained on the same patient split"
            )
    state = {k: v for k, v in src.state_dict.items() if k.startswith(EHR_PATH)}
    result = net.load_state_dict(state, strict=False)
    if result.unexpected_keys or any(k.startswith(EHR_PATH) for k in result.missing_keys):
        raise ModelError(f"{path}: EHR path does not match ({result})")
    for module in (net.ehr, net.head, *([net.mono] if net.mono is not None else [])):
        for param in module.parameters():
            param.requires_grad_(False)
    log.info("EHR path warm-started from %s (%s) and frozen", path, src.model_version)
    return src.normalisation
