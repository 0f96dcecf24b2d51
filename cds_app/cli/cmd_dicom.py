"""`ventfusion dicom-listen`."""

from __future__ import annotations

import typer

from cds_app.cli.common import not_built


def register(app: typer.Typer) -> None:
    @app.command("dicom-listen")
    def dicom_listen() -> None:
        """Run the DICOM C-STORE listener on its own (not built yet)."""
        not_built("The DICOM listener")
