"""`ventfusion attach-applicability`: give a checkpoint trained before the applicability guard
existed the statistics of its training data (new checkpoints get them from `ventfusion train`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("attach-applicability")
    def attach(
        checkpoint: Annotated[Path, typer.Option(help="Checkpoint (.pt) to give a guard.")],
        cohort: Annotated[
            Path, typer.Option(help="The cohort directory the checkpoint was trained on.")
        ],
        out: Annotated[
            Path | None, typer.Option(help="Write here instead of replacing the checkpoint.")
        ] = None,
        threads: Annotated[int, typer.Option(help="torch threads (0 = default).")] = 0,
    ) -> None:
        """Fit the film and EHR applicability statistics over the training cohort (same
        windows and patient split as training) and store them in the checkpoint."""
        import torch

        from model import ModelError
        from model.applicability.fit import attach_applicability
        from model.checkpoint import load_checkpoint

        if threads:
            torch.set_num_threads(threads)
        try:
            target = attach_applicability(checkpoint, cohort, out)
        except ModelError as exc:
            typer.secho(f"attach-applicability failed: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from exc
        stats = load_checkpoint(target).applicability
        assert stats is not None
        film = stats.film
        typer.echo(
            f"wrote {target}: EHR ranges of {len(stats.ehr.low)} variables from "
            f"{stats.ehr.fitted_on.get('windows', 0)} training windows; "
            + (
                f"film guard on {film.fitted_on.get('train_films', 0)} training films, "
                f"threshold {film.threshold:.3f} at a {film.false_rejection_rate:.1%} "
                f"false-rejection rate on {film.calibrated_on}"
                if film
                else "no film guard (the model reads no films)"
            )
        )
