"""Training recipes: named sequences of ``ventfusion train`` stages, defined here only.

``default`` is the recipe of the bundled model (``make model`` runs
``ventfusion train --recipe default`` through bench/rebuild_default_model.sh, so the two cannot
drift): an EHR-only model, then residual gated fusion whose EHR path is warm-started from it and
frozen, with gate L1 0.005 (chosen on validation: 0.02 kept the gate mostly shut, 0 saturated it);
the EHR-only stage trains up to 16 epochs (patience 4).

A stage is plain data: the ``ventfusion train`` options it sets (``arch``, ``fusion``,
``gate_l1``, ...; names as the CLI's, with underscores) and ``warm_start``, the earlier stage whose
checkpoint becomes its ``--ehr-checkpoint``. A stage's ``epochs``/``patience`` replace the command
line's for that stage. Every other option (seed, epochs, threads, ...) is the
command line's. Stages whose architecture reads films are left out on a cohort without films
(``--arch auto``), so the recipe then ends with its EHR-only stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model import ModelError

#: Architectures that read films (useless on a cohort without any).
FILM_ARCHS = frozenset({"gated", "concat", "image_only"})
#: ``--arch auto``: what a cohort with films, and one without, gets.
AUTO_WITH_FILMS = "gated"
AUTO_WITHOUT_FILMS = "ehr_only"
#: Options a stage may set (the rest are the command line's).
STAGE_OPTIONS = frozenset(
    {"arch", "fusion", "gate_l1", "ehr_encoder", "hidden", "cxr_encoder", "epochs", "patience"}
)
#: Stage options that are training settings (``TrainConfig``), not network ones.
TRAIN_OPTIONS = ("gate_l1", "epochs", "patience")

RECIPES: dict[str, list[dict[str, Any]]] = {
    "default": [
        # 16 epochs, patience 4: the monotone bedside head's rare severe windows keep improving
        # validation AUROC past 10 epochs (0.845 at 10, 0.873 at 16; synthetic, docs/model.md).
        {"stage": "ehr_only", "arch": "ehr_only", "epochs": 16, "patience": 4},
        {
            "stage": "gated",
            "arch": "gated",
            "fusion": "residual",
            "gate_l1": 0.005,
            "warm_start": "ehr_only",
        },
    ],
}


@dataclass(frozen=True, slots=True)
class Stage:
    """One training run of a recipe."""

    name: str
    options: Mapping[str, Any]
    warm_start: str = ""  # name of an earlier stage (its checkpoint is the EHR warm start)

    @property
    def arch(self) -> str:
        return str(self.options["arch"])


def auto_arch(has_films: bool) -> str:
    """What ``--arch auto`` trains: gated fusion with films, EHR-only without."""
    return AUTO_WITH_FILMS if has_films else AUTO_WITHOUT_FILMS


def recipe_stages(name: str, *, has_films: bool) -> list[Stage]:
    """The stages of recipe ``name`` that fit the cohort (film stages only with films)."""
    if name not in RECIPES:
        raise ModelError(f"unknown recipe {name!r}; known: {', '.join(sorted(RECIPES))}")
    stages: list[Stage] = []
    for entry in RECIPES[name]:
        options = {k: v for k, v in entry.items() if k not in ("stage", "warm_start")}
        unknown = set(options) - STAGE_OPTIONS
        if unknown or "arch" not in options:
            raise ModelError(f"recipe {name!r} stage {entry.get('stage')!r}: bad options {unknown}")
        stage = Stage(str(entry["stage"]), options, str(entry.get("warm_start", "")))
        if stage.arch in FILM_ARCHS and not has_films:
            continue
        if stage.warm_start and stage.warm_start not in {s.name for s in stages}:
            raise ModelError(
                f"recipe {name!r} stage {stage.name!r}: warm start from {stage.warm_start!r}, "
                "which is not an earlier stage"
            )
        stages.append(stage)
    return stages


def stage_paths(stages: Sequence[Stage], out: Path, stage_dir: Path | None) -> dict[str, Path]:
    """Where each stage's checkpoint goes: the last at ``out``, earlier ones as
    ``<stage_dir>/<stage>.pt`` (``stage_dir`` defaults to the folder of ``out``)."""
    folder = stage_dir if stage_dir is not None else out.parent
    paths = {s.name: folder / f"{s.name}.pt" for s in stages[:-1]}
    if stages:
        paths[stages[-1].name] = out
    if out in list(paths.values())[:-1]:
        raise ModelError(f"--out {out} would be overwritten by an earlier recipe stage")
    return paths
