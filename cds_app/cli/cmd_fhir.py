"""`ventfusion fhir-subscribe`, `ventfusion fhir-import` and `ventfusion fhir-poll`."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated, cast

import typer

from cds_app.cli.common import load_settings
from cds_app.settings import Settings
from fhir_adapter import FhirAdapterError
from fhir_adapter.bulk import import_ndjson
from fhir_adapter.codes import load_code_table
from fhir_adapter.procedure_mapping import VentilationCodes
from fhir_adapter.subscription_building import (
    Payload,
    build_backport_subscription,
    build_r4_subscription,
)
from fhir_adapter.subscriptions import ensure_subscription

logger = logging.getLogger(__name__)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _need_server(settings: Settings) -> None:
    if not settings.fhir.base_url:
        raise _fail("set VENTFUSION_FHIR__BASE_URL to the EHR's FHIR R4 endpoint", 2)


def _subscription(settings: Settings, endpoint: str, style: str, payload: str) -> dict[str, object]:
    fhir = settings.fhir
    headers = [f"{fhir.notification_header}: {fhir.notification_secret}"]
    headers = headers if fhir.notification_secret else []
    if style == "backport":
        return build_backport_subscription(
            endpoint,
            topic=fhir.subscription_topic,
            filter_criteria=fhir.subscription_criteria,
            payload=cast(Payload, payload),
            headers=headers,
        )
    return build_r4_subscription(
        endpoint, criteria=fhir.subscription_criteria, payload=payload != "empty", headers=headers
    )


def _ventilation_codes(settings: Settings) -> VentilationCodes:
    codes = VentilationCodes()
    system, sep, code = settings.fhir.ventilation_local_code.partition("|")
    return codes.with_local(system, code) if sep and code else codes


async def run_poller(settings: Settings, *, once: bool) -> None:
    """Poll every ``poll_interval_s`` (or once) into the database's measurement store."""
    from cds_app.db.session import make_engine, migrate
    from cds_app.db.store import Store
    from cds_app.fhir_wiring import build_db_ingest, fhir_client
    from cds_app.security.pseudonym_key import build_pseudonymiser

    pseudonymise = build_pseudonymiser(settings)
    engine = make_engine(settings.database_url)
    migrate(engine)
    store = Store(engine, pseudonymise=pseudonymise)
    async with fhir_client(settings) as client:
        services = build_db_ingest(
            settings, client, db=engine, sink=store, patients=store, pseudonymise=pseudonymise
        )
        while True:
            report = await services.poller.poll_once()
            logger.info(
                "poll: %d observations, %d new measurements, %d rejected",
                report.observations,
                report.measurements,
                len(report.rejected),
            )
            if once:
                return
            await asyncio.sleep(settings.fhir.poll_interval_s)


def register(app: typer.Typer) -> None:
    @app.command("fhir-subscribe")
    def fhir_subscribe(
        endpoint: Annotated[str, typer.Option(help="Receiver URL (default: ours)")] = "",
        style: Annotated[str, typer.Option(help="r4 (criteria) or backport (topic)")] = "",
        payload: Annotated[str, typer.Option(help="empty, id-only or full-resource")] = "",
    ) -> None:
        """Create, or find already present, our Observation subscription on the EHR."""
        from cds_app.fhir_wiring import fhir_client

        settings = load_settings()
        _need_server(settings)
        style = style or settings.fhir.subscription_style
        payload = payload or settings.fhir.subscription_payload
        if style not in ("r4", "backport") or payload not in ("empty", "id-only", "full-resource"):
            raise _fail("--style is r4|backport, --payload is empty|id-only|full-resource", 2)
        target = endpoint or f"{settings.base_url}/fhir/notifications"
        wanted = _subscription(settings, target, style, payload)

        async def run() -> tuple[str, bool]:
            async with fhir_client(settings) as client:
                return await ensure_subscription(client, wanted)

        try:
            ref, created = asyncio.run(run())
        except FhirAdapterError as exc:
            raise _fail(f"subscription failed: {exc}") from exc
        typer.echo(f"{ref} {'created' if created else 'already present'} ({style}, {payload})")

    @app.command("fhir-import")
    def fhir_import(
        source: Annotated[Path, typer.Argument(help="Folder of bulk-export .ndjson files")],
        out: Annotated[Path, typer.Argument(help="Cohort directory to write")],
        synthetic: Annotated[bool, typer.Option(help="Mark the cohort synthetic")] = False,
        mrn_system: Annotated[
            str,
            typer.Option(
                help="Identifier system of the Patients' MRN (default: VENTFUSION_FHIR__MRN_SYSTEM "
                "or VENTFUSION_PATIENT_ID_SYSTEM); the import lists the systems it found."
            ),
        ] = "",
        top: Annotated[
            int, typer.Option(help="Rejection groups to print (all are in the summary file).")
        ] = 10,
    ) -> None:
        """Import FHIR bulk NDJSON (Patient, Encounter, Observation, Procedure) into a cohort.

        Writes the complete rejection summary to OUT/import-summary.json and exits 1 when the
        cohort would be empty (no patient or no measurement)."""
        from fhir_adapter.bulk_summary import SUMMARY_FILE

        settings = load_settings()
        try:
            report = import_ndjson(
                source,
                out,
                mrn_system=mrn_system or settings.mrn_system,
                codes=load_code_table(settings.fhir.local_codes_file),
                ventilation_codes=_ventilation_codes(settings),
                synthetic=synthetic,
            )
        except FhirAdapterError as exc:
            raise _fail(f"import failed: {exc}") from exc
        for line in report.lines(top):
            typer.echo(line)
        typer.echo(f"summary: {out / SUMMARY_FILE}")
        if report.empty:
            hint = report.suggested_system()
            raise _fail(
                f"the cohort {out} is empty ({report.patients} patients, {report.measurements} "
                "measurements): nothing to train on"
                + (f"; rerun with --mrn-system {hint}" if hint else ""),
            )
        typer.echo(f"cohort written to {out}")

    @app.command("fhir-poll")
    def fhir_poll(
        once: Annotated[bool, typer.Option(help="One pass, then exit")] = False,
    ) -> None:
        """Poll the EHR for changed Observations (``_lastUpdated``) into the app database."""
        settings = load_settings()
        _need_server(settings)
        try:
            asyncio.run(run_poller(settings, once=once))
        except FhirAdapterError as exc:
            raise _fail(f"polling failed: {exc}") from exc
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
