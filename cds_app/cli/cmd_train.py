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
    from model.training.loop import EpochRecord

# torch and the training code are imported inside the command: every other subcommand
# (worker, migrate, dicom-listen) starts without paying for them.

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        cohort: Annotated[Path, typer.Option(help="Cohort directory (docs/cohort-format.md).")],
        out: Annotated[Path, typer.Option(help="Checkpoint file to write (.pt).")],
        arch: Annotated[str, typer.Option(help="gated, concat, ehr_only or image_only.")] = "gated",
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
        from model.features.spec import FeatureSpec
        from model.nets.fusion import ARCHS, CXR_ENCODERS
        from model.training.loop import TrainConfig
        from model.training.pipeline import train_from_cohort

        settings = load_settings()
        for name, value, allowed in (
            ("arch", arch, ARCHS),
            ("cxr-encoder", cxr_encoder, CXR_ENCODERS),
        ):
            if value not in allowed:
                typer.secho(
                    f"--{name} must be one of {', '.join(allowed)}, not {value!r}",
                    err=True,
                    fg=typer.colors.RED,
                )
                raise typer.Exit(2)
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
        if gate_l1 is not None:
            cfg = replace(cfg, gate_l1=gate_l1)
        if ehr_checkpoint is not None:
            cfg = replace(cfg, ehr_warm_start=str(ehr_checkpoint))
        overrides: dict[str, object] = {
            "arch": arch,
            "ehr_encoder": ehr_encoder,
            "hidden": hidden,
        }
        if cxr_encoder != "small_cnn":
            overrides["cxr_encoder"] = cxr_encoder
        if fusion != "hidden":
            overrides["fusion"] = fusion

        def progress(r: EpochRecord) -> None:
            typer.echo(
                f"epoch {r.epoch:2d}  loss {r.train_loss:.4f}  val AUROC {r.val_auroc:.4f}  "
                f"({r.seconds:.1f} s)"
            )

        started = time.perf_counter()
        try:
            ckpt = train_from_cohort(
                cohort, out, spec=spec, net_overrides=overrides, cfg=cfg, on_epoch=progress
            )
        except ModelError as exc:
            typer.secho(f"training failed: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from exc
        m = ckpt.card.metrics
        typer.echo(
            f"wrote {out}: {ckpt.model_id} {ckpt.model_version}; val AUROC {m['val_auroc']:.4f}, "
            f"ECE {m['val_ece']:.4f}; {time.perf_counter() - started:.0f} s"
        )
