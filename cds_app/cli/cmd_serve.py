"""`ventfusion serve`: the API (and, on the embedded default, listener and outbox worker)."""

from __future__ import annotations

import gc
from typing import Annotated

import typer

from cds_app.cli.common import load_settings

#: Young-generation threshold of the garbage collector while serving. A patient-view call
#: allocates tens of thousands of short-lived objects (the request's structs, measurements,
#: tensors' wrappers); the default 700 runs a young collection every few hundred of them.
#: Start-up objects are frozen out of collection by the app (``gc.freeze()``); cycles are
#: still collected, just in larger batches. Measured in docs/benchmarks.md (issue #19).
GC_YOUNG_THRESHOLD = 20_000


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
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            proxy_headers=True,
        )
