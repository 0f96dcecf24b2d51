"""`ventfusion evaluate`: checkpoints x cohort -> JSON, Markdown and PNG report."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from cds_app.cli.common import load_settings


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_cmd(
        cohort: Annotated[Path, typer.Option(help="Cohort directory to evaluate on.")],
        checkpoint: Annotated[
            list[Path],
            typer.Option(help="Checkpoint(s); repeat. The gated model is the primary one."),
        ],
        out: Annotated[Path, typer.Option(help="Report directory.")],
        split: Annotated[
            str, typer.Option(help="all, or train/val/test of the first checkpoint's split.")
        ] = "all",
        n_boot: Annotated[int, typer.Option(help="Patient-level bootstrap replicates.")] = 500,
        seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
        comparators: Annotated[
            bool, typer.Option(help="Add the clinical comparator section.")
        ] = True,
        ceiling_train: Annotated[
            Path | None,
            typer.Option(
                help="Simulator training cohort: add the observable ceiling (perfect film "
                "reader + EHR) fitted on it (synthetic cohorts only)."
            ),
        ] = None,
    ) -> None:
        """Evaluate one or more checkpoints on a cohort and write report.json/report.md/PNGs."""
        from model import ModelError  # torch-heavy imports only when evaluating
        from model.evaluation.run import EvaluationRequest, evaluate

        load_settings()
        request = EvaluationRequest(
            checkpoints=tuple(checkpoint),
            cohort=cohort,
            out_dir=out,
            split=split,
            n_boot=n_boot,
            seed=seed,
            comparators=comparators,
            ceiling_train=ceiling_train,
            command="ventfusion " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "",
        )
        try:
            report = evaluate(request)
        except ModelError as exc:
            typer.secho(f"evaluation failed: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from exc
        disc = report["sections"]["discrimination"]["models"]
        for name, m in disc.items():
            typer.echo(f"{name}: AUROC {m['auroc']['estimate']:.4f}")
        for target, ok in report["sections"]["targets"].items():
            verdict = ok if isinstance(ok, str) else ("met" if ok else "NOT met")
            typer.echo(f"target {target}: {verdict}")
        typer.echo(f"report: {out / 'report.md'}")
