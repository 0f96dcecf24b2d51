"""`ventfusion migrate` and `ventfusion worker`."""

from __future__ import annotations

import typer

from cds_app.cli.common import load_settings


def register(app: typer.Typer) -> None:
    @app.command("migrate")
    def migrate_command() -> None:
        """Bring the database schema to the latest migration and exit (idempotent)."""
        from cds_app.db.session import make_engine, migrate

        settings = load_settings()
        engine = make_engine(settings.database_url)
        migrate(engine)
        engine.dispose()
        typer.echo("database schema is at head")

    @app.command("worker")
    def worker_command() -> None:
        """Deliver queued RiskAssessments to the EHR (outbox worker only; no HTTP, no listener)."""
        import asyncio

        from cds_app.worker import run_worker

        settings = load_settings()
        if not settings.fhir.base_url:
            typer.secho("the worker needs VENTFUSION_FHIR__BASE_URL", err=True)
            raise typer.Exit(2)
        asyncio.run(run_worker(settings))
