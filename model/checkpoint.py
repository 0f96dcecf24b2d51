"""The checkpoint: weights + everything needed to rebuild and serve the model exactly.

A checkpoint is one ``torch.save`` file holding only tensors and plain Python values (loaded with
``weights_only=True``)::

    {"format": "ventfusion-checkpoint", "version": 1, "model_id", "model_version",
     "net_config", "feature_spec", "normalisation", "calibration", "thresholds",
     "card", "train_config", "history", "state_dict", "applicability"}

``applicability`` (what the training films and windows looked like, ``model.applicability``) is
optional: a checkpoint without it serves no film (fail closed) until it is attached with
``ventfusion attach-applicability``.

``backbone`` (version 2) is the identity of the site's film backbone whose embeddings the model
was trained on (``model.backbone``: name, version, sha256 of the file, recipe digest). Only
checkpoints that have one are written as version 2, so an older reader refuses them instead of
serving them without the backbone check; version 1 files load as before.
"""

from __future__ import annotations

import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from model import ModelError
from model.applicability.stats import ApplicabilityStats
from model.calibration import CardThresholds, PlattCalibration
from model.features.spec import FeatureSpec, Normalisation
from model.nets import FusionNet, NetConfig
from model.schemas import BackboneIdentity

FORMAT = "ventfusion-checkpoint"
VERSION = 2
VERSION_WITHOUT_BACKBONE = 1


class CheckpointError(ModelError):
    """The file is not a readable VentFusion checkpoint."""


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.4f}"


#: The first limitation, from the training data (never "synthetic only" for site data).
DATA_LIMITATION = {
    True: "Trained and validated on synthetic patients only; not validated on real patients.",
    False: "Trained and validated on the site cohort named above (validation = held-out "
    "patients of the same cohort); not validated on other sites or prospectively.",
}


@dataclass(slots=True)
class ModelCard:
    """What the model is for, what it was trained on, how well it did, and its limits."""

    model_id: str
    model_version: str
    architecture: str
    intended_use: str
    training_data: str
    synthetic: bool
    metrics: dict[str, float] = field(default_factory=dict)
    limitations: list[str] = field(default_factory=list)
    created: str = ""
    comparison: str = ""  # Markdown: comparison with bedside rules (from the evaluation)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        return cls(**data)

    def to_markdown(self) -> str:
        """The card as Markdown (shown on the model page and in the docs)."""
        tag = " (synthetic)" if self.synthetic else ""
        # a card written before the data limitation followed the data says what the data were
        limitations = [
            DATA_LIMITATION[self.synthetic] if item in DATA_LIMITATION.values() else item
            for item in self.limitations
        ]
        lines = [
            f"# Model card: {self.model_id} {self.model_version}",
            "",
            f"- **Architecture:** {self.architecture}",
            f"- **Intended use:** {self.intended_use}",
            f"- **Training data:** {self.training_data}",
            f"- **Data:** {'synthetic (simulator)' if self.synthetic else 'site data'}",
            f"- **Created:** {self.created}",
            "",
            f"## Metrics{tag}: val_ = validation split, test_ = held-out cohort",
            "",
            "| metric | value |",
            "|---|---|",
            *(f"| {k} | {_fmt(v)} |" for k, v in sorted(self.metrics.items())),
            "",
            "## Limitations",
            "",
            *(f"- {item}" for item in limitations),
            "",
            *(
                ["## Comparison with bedside rules", "", self.comparison, ""]
                if self.comparison
                else []
            ),
        ]
        return "\n".join(lines)


@dataclass(slots=True)
class Checkpoint:
    model_id: str
    model_version: str
    net_config: NetConfig
    feature_spec: FeatureSpec
    normalisation: Normalisation
    calibration: PlattCalibration
    thresholds: CardThresholds
    card: ModelCard
    state_dict: dict[str, torch.Tensor]
    train_config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    applicability: ApplicabilityStats | None = None
    backbone: BackboneIdentity | None = None  # the film backbone of an embedding model

    def build_net(self) -> FusionNet:
        """The network with its weights, in eval mode."""
        net = FusionNet(self.net_config)
        net.load_state_dict(self.state_dict)
        net.eval()
        return net


def save_checkpoint(ckpt: Checkpoint, path: Path) -> None:
    """Write the checkpoint atomically."""
    payload = {
        "format": FORMAT,
        "version": VERSION if ckpt.backbone is not None else VERSION_WITHOUT_BACKBONE,
        "model_id": ckpt.model_id,
        "model_version": ckpt.model_version,
        "net_config": ckpt.net_config.to_dict(),
        "feature_spec": ckpt.feature_spec.to_dict(),
        "normalisation": ckpt.normalisation.to_dict(),
        "calibration": ckpt.calibration.to_dict(),
        "thresholds": ckpt.thresholds.to_dict(),
        "card": ckpt.card.to_dict(),
        "train_config": dict(ckpt.train_config),
        "history": list(ckpt.history),
        "state_dict": {k: v.detach().cpu().clone() for k, v in ckpt.state_dict.items()},
        "applicability": ckpt.applicability.to_dict() if ckpt.applicability else None,
    }
    if ckpt.backbone is not None:
        payload["backbone"] = ckpt.backbone.model_dump(mode="json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a {FORMAT} file")
    if int(data.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {data['version']} is newer than {VERSION}"
        )
    try:
        return Checkpoint(
            model_id=str(data["model_id"]),
            model_version=str(data["model_version"]),
            net_config=NetConfig.from_dict(data["net_config"]),
            feature_spec=FeatureSpec.from_dict(data["feature_spec"]),
            normalisation=Normalisation.from_dict(data["normalisation"]),
            calibration=PlattCalibration.from_dict(data["calibration"]),
            thresholds=CardThresholds.from_dict(data["thresholds"]),
            card=ModelCard.from_dict(data["card"]),
            state_dict=dict(data["state_dict"]),
            train_config=dict(data.get("train_config", {})),
            history=list(data.get("history", [])),
            applicability=ApplicabilityStats.from_dict(dict(data["applicability"]))
            if data.get("applicability")
            else None,
            backbone=BackboneIdentity.model_validate(data["backbone"])
            if data.get("backbone")
            else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: malformed checkpoint ({exc})") from exc
