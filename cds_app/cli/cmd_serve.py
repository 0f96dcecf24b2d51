"""`ventfusion serve`: the API (and, on the embedded default, listener and outbox worker)."""

from __future__ import annotations

from typing import Annotated

import typer

from cds_app.cli.common import load_settings


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: Annotated[
            str | None, typer.Option(help="Bind address (default from settings).")
        ] = None,
        port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
        dicom: Annotated[
            bool, typer.Option("--dicom/--no-dicom", help="Run the DICOM listener in-process.")
        ] = True,
        worker: Annotated[
            bool, typer.Option("--worker/--no-worker", help="Run the outbox worker in-process.")
        ] = True,
    ) -> None:
        """Serve the CDS Hooks API, FHIR notification receiver and pages.

        One process per replica; scale out with several replicas (``--no-dicom --no-worker``)
        behind a load balancer on PostgreSQL.
        """
        import uvicorn

        from cds_app.app import create_app

        settings = load_settings()
        updates: dict[str, object] = {
            k: v for k, v in (("host", host), ("port", port)) if v is not None
        }
        data = settings.model_dump() | updates
        data["dicom"] = {**data["dicom"], "enabled": settings.dicom.enabled and dicom}
        data["worker"] = {**data["worker"], "enabled": settings.worker.enabled and worker}
        try:
            settings = settings.model_validate(data)
        except ValueError as exc:
            typer.secho(f"invalid configuration: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from exc
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            proxy_headers=True,
        )
