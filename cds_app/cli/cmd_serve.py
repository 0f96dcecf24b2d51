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
    ) -> None:
        """Serve the CDS Hooks API, FHIR notification receiver and pages."""
        import uvicorn

        from cds_app.app import create_app

        settings = load_settings()
        updates = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
        if updates:
            settings = settings.model_validate(settings.model_dump() | updates)
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
