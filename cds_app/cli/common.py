"""Helpers shared by the CLI subcommands."""

from __future__ import annotations

import typer

from cds_app.logging_setup import configure_logging
from cds_app.settings import Settings


def load_settings() -> Settings:
    """Build the process's one settings object and configure logging from it."""
    try:
        settings = Settings()
    except ValueError as exc:
        typer.secho(f"invalid configuration: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, json_format=settings.log_json)
    return settings
