"""`ventfusion demo`: the app with the bundled model and a simulated ward, on loopback."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from cds_app.cli.common import load_settings


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        patients: Annotated[int, typer.Option(min=1, max=40, help="Ward size.")] = 6,
        live_hours: Annotated[int, typer.Option(min=1, help="Simulated hours replayed live.")] = 8,
        step_seconds: Annotated[
            float, typer.Option(min=0.0, help="Wall seconds per simulated hour.")
        ] = 6.0,
        duration: Annotated[
            float | None, typer.Option(min=1.0, help="Stop after this many seconds.")
        ] = None,
        once: Annotated[
            bool, typer.Option("--once", help="Exit right after the live hours.")
        ] = False,
        port: Annotated[int | None, typer.Option(help="App port (default from settings).")] = None,
        seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
        verbose: Annotated[bool, typer.Option("--verbose", help="Show the app's logs.")] = False,
    ) -> None:
        """Run VentFusion with the bundled model against a simulated ward (synthetic data).

        Observations reach the app as FHIR notifications, chest films by DICOM C-STORE, and a
        demo EHR fires signed patient-view hooks; cards are printed and the risk pages linked.
        """
        from cds_app.demo.runner import DemoOptions, run_demo

        settings = load_settings()
        if not verbose:  # the console shows the ward and the cards; logs only when asked
            logging.getLogger().setLevel(logging.WARNING)
        if port is not None:
            settings = settings.model_copy(update={"port": port})
        options = DemoOptions(
            patients=patients,
            live_hours=live_hours,
            step_s=step_seconds,
            duration_s=duration,
            once=once,
            seed=seed,
        )
        report = run_demo(settings, options, typer.echo)
        typer.echo(
            f"demo finished: {report.observations} Observations, {report.films_sent} films, "
            f"{report.hooks} hooks, {len(report.cards)} cards"
        )
