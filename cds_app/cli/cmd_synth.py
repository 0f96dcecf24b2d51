"""`ventfusion synth`."""

from __future__ import annotations

import typer

from cds_app.cli.common import not_built


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth() -> None:
        """(not built yet)"""
        not_built("'synth'")
