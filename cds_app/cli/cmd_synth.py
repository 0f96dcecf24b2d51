"""`ventfusion synth`: simulate a synthetic ICU cohort and export it (cohort dir, FHIR, DICOM)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cds_app.cli.common import load_settings

if TYPE_CHECKING:
    from rich.console import Console

FORMATS = ("cohort", "fhir", "dicom")


def parse_formats(text: str) -> list[str]:
    """``cohort,fhir,dicom`` -> the list; the cohort is always written (exports read it)."""
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise typer.BadParameter(
            f"unknown format(s) {', '.join(unknown)}; use {', '.join(FORMATS)}"
        )
    return chosen or ["cohort"]


@contextmanager
def _bar(console: Console, label: str) -> Iterator[Callable[[int, int], None]]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth(
        out: Annotated[
            Path, typer.Option("--out", help="Output directory (must be new or empty).")
        ],
        patients: Annotated[
            int, typer.Option("--patients", min=1, help="Number of ICU stays.")
        ] = 200,
        seed: Annotated[
            int, typer.Option("--seed", min=0, help="Random seed (same seed, same files).")
        ] = 0,
        formats: Annotated[
            str, typer.Option("--formats", help="Comma list of cohort,fhir,dicom.")
        ] = "cohort",
        film_size: Annotated[
            int, typer.Option("--film-size", min=32, max=4096, help="Nominal film matrix (px).")
        ] = 512,
        workers: Annotated[
            int, typer.Option("--workers", min=0, help="Processes (0 = up to 2 per CPU count).")
        ] = 0,
        mrn_system: Annotated[
            str, typer.Option("--mrn-system", help="MRN identifier system (default: settings).")
        ] = "",
        ehr_lag_h: Annotated[
            tuple[float, float],
            typer.Option("--ehr-lag-h", help="Range of hours the EHR trails the film (LOW HIGH)."),
        ] = (22.0, 26.0),
        film_interval_h: Annotated[
            float, typer.Option("--film-interval-h", help="Hours between routine film rounds.")
        ] = 24.0,
    ) -> None:
        """Simulate a synthetic ICU cohort (EHR + chest films + oracle risk) and export it."""
        # Heavy imports here, not at module top: every other `ventfusion` command stays fast.
        from rich.console import Console

        from dicom_listener import DicomListenerError
        from dicom_listener.cohort_dicom_export import choose_modality, export_cohort_dicom
        from fhir_adapter import FhirAdapterError
        from fhir_adapter.cohort_fhir_export import export_cohort_fhir
        from model import ModelError
        from model.synth import SynthConfig, simulate

        settings = load_settings()
        chosen = parse_formats(formats)
        procs = workers or max(1, min(2, os.cpu_count() or 1))
        console = Console(stderr=True)
        try:
            config = SynthConfig(
                patients=patients,
                seed=seed,
                film_size=film_size,
                workers=procs,
                mrn_system=mrn_system or settings.patient_id_system,
                ehr_lag_h=ehr_lag_h,
                film_interval_h=film_interval_h,
            )
            with _bar(console, "simulating patients") as update:
                summary = simulate(config, out, on_progress=update)
            if "fhir" in chosen:
                with _bar(console, "FHIR NDJSON") as update:
                    export_cohort_fhir(
                        out, out / "fhir", modality_of=choose_modality, on_progress=update
                    )
            if "dicom" in chosen:
                with _bar(console, "DICOM files") as update:
                    export_cohort_dicom(out, out / "dicom", seed=seed, on_progress=update)
        except (ModelError, FhirAdapterError, DicomListenerError, OSError) as exc:
            typer.secho(f"synth failed: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from exc
        typer.echo(
            f"synthetic cohort: {summary.patients} patients, {summary.ventilated} ventilated "
            f"({summary.ventilated_fraction:.1%}), {summary.films} films, "
            f"{summary.positive_windows}/{summary.prediction_times} positive hourly windows "
            f"({summary.positive_window_fraction:.1%}) -> {out}"
        )
