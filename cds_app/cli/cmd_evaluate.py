"""`ventfusion evaluate`."""

from __future__ import annotations

import typer

from cds_app.cli.common import not_built


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate() -> None:
        """(not built yet)"""
        not_built("'evaluate'")
