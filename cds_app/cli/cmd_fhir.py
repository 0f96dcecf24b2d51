"""`ventfusion fhir-subscribe` and `ventfusion fhir-import`."""

from __future__ import annotations

import typer

from cds_app.cli.common import not_built


def register(app: typer.Typer) -> None:
    @app.command("fhir-subscribe")
    def fhir_subscribe() -> None:
        """Create or ensure the Observation subscription on the EHR (not built yet)."""
        not_built("The FHIR subscription client")

    @app.command("fhir-import")
    def fhir_import() -> None:
        """Import FHIR bulk NDJSON into a cohort directory (not built yet)."""
        not_built("The FHIR bulk importer")
