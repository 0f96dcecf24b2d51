"""`ventfusion monitor`: sliding-window AUROC of recorded predictions vs ventilation starts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from cds_app.cli.common import load_settings


def register(app: typer.Typer) -> None:
    @app.command("monitor")
    def monitor_command(
        days: Annotated[float, typer.Option(help="Look at predictions of the last DAYS days")] = 30,
        window_days: Annotated[float, typer.Option(help="Sliding window length")] = 7,
        step_days: Annotated[float, typer.Option(help="Distance between window ends")] = 1,
        floor: Annotated[float, typer.Option(help="Alert when the AUROC is under this")] = 0.70,
        min_positives: Annotated[int, typer.Option(help="Fewer positives: insufficient")] = 10,
        min_negatives: Annotated[int, typer.Option(help="Fewer negatives: insufficient")] = 10,
        model_version: Annotated[
            str, typer.Option(help="Only predictions of this model version")
        ] = "",
        json_out: Annotated[Path | None, typer.Option("--json", help="Write the report")] = None,
        prometheus: Annotated[
            Path | None, typer.Option(help="Write gauges for the node-exporter textfile collector")
        ] = None,
    ) -> None:
        """Score past predictions against the ventilation starts the EHR recorded since.

        Exits 1 when the latest judged window is under the floor (for cron / alerting).
        """
        import asyncio

        from cds_app.db.session import make_engine
        from cds_app.fhir_wiring import fhir_client
        from cds_app.scaleout.monitoring import (
            Outcomes,
            known_fhir_ids,
            recorded_predictions,
            recorded_ventilation_starts,
            write_prometheus,
        )
        from cds_app.security.pseudonym_key import build_pseudonymiser
        from fhir_adapter.identity import PatientResolver
        from fhir_adapter.procedure_mapping import VentilationCodes
        from model.monitoring import MonitoringConfig, monitor

        settings = load_settings()
        if not settings.fhir.base_url:
            typer.secho("monitoring needs VENTFUSION_FHIR__BASE_URL (outcomes)", err=True)
            raise typer.Exit(2)
        now = datetime.now(UTC)
        engine = make_engine(settings.database_url)
        preds = recorded_predictions(engine, now - timedelta(days=days), model_version or None)
        keys = sorted({p.patient for p in preds})
        fhir_ids = known_fhir_ids(engine, keys)
        engine.dispose()
        codes = VentilationCodes()
        system, sep, code = settings.fhir.ventilation_local_code.partition("|")
        if sep and code:
            codes = codes.with_local(system, code)

        async def outcomes() -> Outcomes:
            client = fhir_client(settings)
            try:
                resolver = PatientResolver(
                    client,
                    settings.mrn_system,
                    pseudonymise=build_pseudonymiser(settings),
                )
                return await recorded_ventilation_starts(client, keys, fhir_ids, resolver, codes)
            finally:
                await client.aclose()

        config = MonitoringConfig(
            window=timedelta(days=window_days),
            step=timedelta(days=step_days),
            floor=floor,
            min_positives=min_positives,
            min_negatives=min_negatives,
        )
        known = asyncio.run(outcomes())
        if known.unknown:
            typer.echo(f"{len(known.unknown)} patients not found in the EHR: left out")
        scored = [p for p in preds if p.patient not in known.unknown]
        report = monitor(scored, known.starts, now=now, config=config)
        for window in report.windows:
            auc = "   n/a" if window.auroc is None else f"{window.auroc:6.3f}"
            typer.echo(
                f"{window.start:%Y-%m-%d %H:%M} .. {window.end:%Y-%m-%d %H:%M}  "
                f"n={window.predictions:6d} pos={window.positives:5d} AUROC {auc}  {window.status}"
            )
        typer.echo(
            f"labelled {report.labelled}, pending {report.pending}, floor {floor:.2f}: "
            + ("ALERT" if report.alert else "ok")
        )
        if json_out is not None:
            json_out.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        if prometheus is not None:
            write_prometheus(report, prometheus)
        if report.alert:
            raise typer.Exit(1)
