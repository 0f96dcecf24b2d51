"""`ventfusion import-mimic`: MIMIC-IV (+ MIMIC-CXR-JPG) CSV files -> a cohort directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cds_app.cli.common import load_settings


def register(app: typer.Typer) -> None:
    @app.command("import-mimic")
    def import_mimic_cmd(
        mimic: Annotated[
            Path,
            typer.Option(help="MIMIC-IV v2.x/3.x folder holding hosp/ and icu/ (.csv or .csv.gz)."),
        ],
        out: Annotated[Path, typer.Option(help="Cohort directory to write.")],
        cxr: Annotated[
            Path | None,
            typer.Option(
                help="MIMIC-CXR-JPG folder holding mimic-cxr-2.0.0-metadata.csv(.gz) and files/."
            ),
        ] = None,
        all_stays: Annotated[
            bool,
            typer.Option(
                help="Keep every ICU stay (default: each patient's first, so no patient is in "
                "two training splits)."
            ),
        ] = False,
        pre_stay_h: Annotated[
            float, typer.Option(help="Keep measurements and films this many hours before intime.")
        ] = 72.0,
        memory_limit: Annotated[
            str, typer.Option(help="DuckDB memory limit; beyond it, work spills to disk.")
        ] = "2GB",
        threads: Annotated[int, typer.Option(help="DuckDB threads (0 = all cores).")] = 0,
        overwrite: Annotated[bool, typer.Option(help="Replace a cohort already in --out.")] = False,
    ) -> None:
        """Import MIMIC-IV ICU stays (and MIMIC-CXR-JPG films) into a cohort for training."""
        from model.cohorts.mimic import (
            SUMMARY_FILE,
            MimicImportError,
            MimicImportOptions,
            import_mimic,
        )

        load_settings()
        options = MimicImportOptions(
            all_stays=all_stays,
            pre_stay_h=pre_stay_h,
            memory_limit=memory_limit,
            threads=threads,
            overwrite=overwrite,
        )
        try:
            report = import_mimic(mimic, out, cxr_root=cxr, options=options)
        except MimicImportError as exc:
            typer.secho(f"import failed: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from exc
        for line in report.lines():
            typer.echo(line)
        typer.echo(f"full summary: {out / SUMMARY_FILE}")
        if report.empty:
            typer.secho(
                f"the cohort in {out} is empty ({report.stays} stays, {report.measurement_rows} "
                "measurements): nothing to train on; see the summary above",
                err=True,
                fg=typer.colors.RED,
            )
            raise typer.Exit(1)
        typer.echo(f"cohort written to {out}")
