"""The ``ventfusion`` console script: one subcommand per component.

Each subcommand lives in its own module under ``cds_app.cli`` and registers itself on ``app``.
``main(argv)`` is what tests call.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from cds_app.cli import (
    cmd_applicability,
    cmd_backbone,
    cmd_demo,
    cmd_dicom,
    cmd_evaluate,
    cmd_fhir,
    cmd_mimic,
    cmd_monitor,
    cmd_pseudonym,
    cmd_serve,
    cmd_synth,
    cmd_train,
    cmd_worker,
)

app = typer.Typer(
    name="ventfusion",
    help="VentFusion: risk of invasive ventilation within 24 h from EHR + chest film.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (
    cmd_serve,
    cmd_worker,
    cmd_dicom,
    cmd_fhir,
    cmd_mimic,
    cmd_synth,
    cmd_train,
    cmd_applicability,
    cmd_backbone,
    cmd_evaluate,
    cmd_demo,
    cmd_monitor,
    cmd_pseudonym,
):
    module.register(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting (for tests)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="ventfusion", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except SystemExit as exc:  # click's own exits (e.g. --help)
        return int(exc.code or 0)
    except typer.Abort:
        return 130
    except Exception as exc:  # click usage errors carry their own exit code
        code = getattr(exc, "exit_code", None)
        if code is None:
            raise
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        return int(code)
    # With standalone_mode=False click returns an Exit's code instead of raising it.
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
