"""`ventfusion train`: cohort directory -> calibrated checkpoint (gated fusion or a baseline)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cds_app.cli.common import load_settings

if TYPE_CHECKING:
    from model.features.spec import FeatureSpec
    from model.training.loop import EpochRecord, TrainConfig

# torch and the training code are imported inside the command: every other subcommand
# (worker, migrate, dicom-listen) starts without paying for them.

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        cohort: Annotated[Path, typer.Option(help="Cohort directory (docs/cohort-format.md).")],
        out: Annotated[Path, typer.Option(help="Checkpoint file to write (.pt).")],
        arch: Annotated[
            str,
            typer.Option(
                help="auto (gated with films, ehr_only without), gated, concat, ehr_only or "
                "image_only."
            ),
        ] = "auto",
        recipe: Annotated[
            str,
            typer.Option(
                help="A named sequence of stages (model/training/recipes.py); 'default' is the "
                "bundled model's: ehr_only, then residual gated fusion warm-started from it, "
                "gate L1 0.005. Sets --arch/--fusion/--ehr-checkpoint/--gate-l1 itself."
            ),
        ] = "",
        stage_dir: Annotated[
            Path | None,
            typer.Option(
                help="--recipe: folder of the earlier stages' checkpoints (default: the "
                "folder of --out), each <stage>.pt."
            ),
        ] = None,
        seed: Annotated[int, typer.Option(help="Seed of weights, batches and split.")] = 0,
        epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 10,
        patience: Annotated[int, typer.Option(help="Early-stopping patience (epochs).")] = 3,
        batch_size: Annotated[int, typer.Option(help="Windows per batch.")] = 256,
        lr: Annotated[float, typer.Option(help="AdamW learning rate.")] = 2e-3,
        windows_per_epoch: Annotated[
            int, typer.Option(help="Sample this many training windows per epoch (0 = all).")
        ] = 12000,
        film_epochs: Annotated[
            int, typer.Option(help="CXR encoder pretraining epochs (0 = end to end).")
        ] = 4,
        film_finding_weight: Annotated[
            float,
            typer.Option(
                help="Weight of the stage-1 finding heads (0 = off; films with labelled "
                "findings only)."
            ),
        ] = 0.0,
        val_fraction: Annotated[float, typer.Option(help="Patients for validation.")] = 0.2,
        test_fraction: Annotated[float, typer.Option(help="Patients held out for test.")] = 0.0,
        lookback_h: Annotated[int | None, typer.Option(help="EHR lookback (h).")] = None,
        film_max_age_h: Annotated[
            float | None, typer.Option(help="Oldest usable film (h).")
        ] = None,
        film_size: Annotated[int, typer.Option(help="Film tensor side (px).")] = 64,
        ehr_encoder: Annotated[str, typer.Option(help="gru or transformer.")] = "gru",
        cxr_encoder: Annotated[
            str, typer.Option(help="small_cnn, densenet121 or embedding.")
        ] = "small_cnn",
        hidden: Annotated[int, typer.Option(help="EHR hidden size.")] = 64,
        fusion: Annotated[
            str,
            typer.Option(
                help="gated/concat: 'hidden' (fuse hidden states) or 'residual' (the film adds "
                "a gated correction to the EHR logit)."
            ),
        ] = "hidden",
        ehr_checkpoint: Annotated[
            Path | None,
            typer.Option(
                help="gated: an ehr_only checkpoint (same cohort, seed, split) whose EHR path is "
                "copied in and frozen, so windows without a film score exactly as it does."
            ),
        ] = None,
        gate_l1: Annotated[
            float | None, typer.Option(help="gated: L1 pressure on the gate (default 0.02).")
        ] = None,
        threads: Annotated[int, typer.Option(help="torch threads (0 = default).")] = 0,
    ) -> None:
        """Train a model on a cohort, calibrate it on validation and write a checkpoint."""
        from model import ModelError
        from model.cohort import read_films
        from model.features.spec import FeatureSpec
        from model.nets.fusion import ARCHS, CXR_ENCODERS
        from model.training.loop import TrainConfig
        from model.training.recipes import auto_arch, recipe_stages, stage_paths

        settings = load_settings()
        for name, value, allowed in (
            ("arch", arch, ("auto", *ARCHS)),
            ("cxr-encoder", cxr_encoder, CXR_ENCODERS),
        ):
            if value not in allowed:
                raise _fail(f"--{name} must be one of {', '.join(allowed)}, not {value!r}", 2)
        given = {
            "--arch": arch != "auto",
            "--fusion": fusion != "hidden",
            "--ehr-checkpoint": ehr_checkpoint is not None,
            "--gate-l1": gate_l1 is not None,
        }
        if recipe and any(given.values()):
            clash = ", ".join(k for k, v in given.items() if v)
            raise _fail(f"--recipe {recipe} sets {clash} itself; leave them out", 2)
        try:
            has_films = bool(read_films(cohort))
        except ModelError as exc:
            raise _fail(f"training failed: {exc}") from exc
        spec = FeatureSpec(
            lookback_h=lookback_h or settings.model.lookback_h,
            film_max_age_h=film_max_age_h or settings.model.film_max_age_h,
            film_size=film_size,
        )
        cfg = TrainConfig(
            seed=seed,
            epochs=epochs,
            patience=patience,
            batch_size=batch_size,
            lr=lr,
            windows_per_epoch=windows_per_epoch,
            film_epochs=film_epochs,
            film_finding_weight=film_finding_weight,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            threads=threads,
        )
        base: dict[str, object] = {"arch": arch, "ehr_encoder": ehr_encoder, "hidden": hidden}
        if cxr_encoder != "small_cnn":
            base["cxr_encoder"] = cxr_encoder
        if fusion != "hidden":
            base["fusion"] = fusion
        if gate_l1 is not None:
            base["gate_l1"] = gate_l1
        if arch == "auto" and not recipe:
            base["arch"] = auto_arch(has_films)
            typer.echo(
                f"--arch auto: {base['arch']} ("
                + ("the cohort has films" if has_films else "the cohort has no films")
                + ")"
            )
        elif base["arch"] != "ehr_only" and not has_films and not recipe:
            typer.secho(
                f"warning: --arch {arch} on a cohort without films: the film path learns "
                "nothing (use --arch ehr_only or auto)",
                err=True,
                fg=typer.colors.YELLOW,
            )
        try:
            if recipe:
                stages = recipe_stages(recipe, has_films=has_films)
                paths = stage_paths(stages, out, stage_dir)
                typer.echo(
                    f"recipe {recipe}: "
                    + " -> ".join(s.name for s in stages)
                    + ("" if has_films else " (film stages left out: the cohort has no films)")
                )
                plan = [
                    (
                        s.name,
                        {**base, **s.options},
                        str(paths[s.warm_start]) if s.warm_start else "",
                        paths[s.name],
                    )
                    for s in stages
                ]
            else:
                warm = str(ehr_checkpoint) if ehr_checkpoint is not None else ""
                plan = [("", base, warm, out)]
            for stage, options, warm, path in plan:
                if stage:
                    typer.echo(f"stage {stage}: {_describe(options, warm)} -> {path}")
                _train_one(cohort, path, spec, cfg, dict(options), warm)
        except ModelError as exc:
            raise _fail(f"training failed: {exc}") from exc


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _describe(options: dict[str, object], warm: str) -> str:
    text = ", ".join(f"{k} {v}" for k, v in options.items())
    return text + (f", EHR path from {warm}" if warm else "")


def _train_one(
    cohort: Path,
    out: Path,
    spec: FeatureSpec,
    cfg: TrainConfig,
    options: dict[str, object],
    warm: str,
) -> None:
    """One training run (one stage); prints the epochs and what the two AUROCs are."""
    from model.training.pipeline import train_from_cohort

    gate_l1 = options.pop("gate_l1", None)
    if gate_l1 is not None:
        cfg = replace(cfg, gate_l1=float(gate_l1))  # type: ignore[arg-type]
    for name in ("epochs", "patience"):  # a recipe stage's own training length
        value = options.pop(name, None)
        if value is not None:
            cfg = replace(cfg, **{name: int(value)})  # type: ignore[call-overload]
    if warm:
        cfg = replace(cfg, ehr_warm_start=warm)
    subsample = f"at most {cfg.val_max_windows}" if cfg.val_max_windows else "all"
    typer.echo(
        f"per-epoch 'val AUROC (early stopping)': uncalibrated, on a fixed subsample of "
        f"{subsample} validation windows, chooses the epoch kept; the final 'val AUROC' below "
        "is of the calibrated model on every validation window"
    )

    def progress(r: EpochRecord) -> None:
        typer.echo(
            f"epoch {r.epoch:2d}  loss {r.train_loss:.4f}  val AUROC (early stopping) "
            f"{r.val_auroc:.4f}  ({r.seconds:.1f} s)"
        )

    started = time.perf_counter()
    ckpt = train_from_cohort(cohort, out, spec=spec, net_overrides=options, cfg=cfg,
                             on_epoch=progress)  # fmt: skip
    m = ckpt.card.metrics
    typer.echo(
        f"wrote {out}: {ckpt.model_id} {ckpt.model_version}; val AUROC {m['val_auroc']:.4f} "
        f"(calibrated, all {m['val_windows']:.0f} validation windows), ECE {m['val_ece']:.4f}; "
        f"{time.perf_counter() - started:.0f} s"
    )
