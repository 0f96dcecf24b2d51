"""`ventfusion pseudonym`: the log token of a patient, to find that patient's log lines.

Operators with the pseudonym key (and only they) can go from an MRN to its log token; the logs
alone never lead back to the MRN. After a key rotation, ``--key-file`` with the old key finds the
patient in logs written before it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from cds_app.cli.common import load_settings


def register(app: typer.Typer) -> None:
    @app.command("pseudonym")
    def pseudonym(
        patient: Annotated[str, typer.Argument(help="Patient key 'system|value' (the MRN).")],
        key_file: Annotated[
            Path | None, typer.Option(help="Another key (e.g. the one before a rotation).")
        ] = None,
    ) -> None:
        """Print the log pseudonym (pt-…) of a patient under this installation's key."""
        from cds_app.security.pseudonym_key import PseudonymKeyError, build_pseudonymiser
        from model.schemas import PatientKey

        settings = load_settings()
        if key_file is not None:
            security = settings.security.model_copy(
                update={"pseudonym_key_file": key_file, "pseudonym_key": SecretStr("")}
            )
            settings = settings.model_copy(update={"security": security})
        try:
            key = PatientKey.parse(patient)
            token = build_pseudonymiser(settings)(key)
        except (ValueError, PseudonymKeyError) as exc:
            typer.secho(str(exc), err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from exc
        typer.echo(token)
