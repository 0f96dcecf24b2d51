from __future__ import annotations

from pathlib import Path

import pytest
import typer.core
import typer.main

from cds_app.cli.main import app, main

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _command_paths(command: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand of the CLI, as the argv that names it."""
    found = [path] if path else []
    if isinstance(command, typer.core.TyperGroup):
        for name, sub in command.commands.items():
            found += _command_paths(sub, (*path, name))
    return found


COMMANDS = _command_paths(typer.main.get_command(app))


def test_the_cli_registers_every_component() -> None:
    top = {path[0] for path in COMMANDS}
    assert {"serve", "worker", "migrate", "dicom-listen", "fhir-poll", "train"} <= top
    assert len(COMMANDS) > len(top)  # groups (dicom-quarantine) are walked too


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*path, "--help"]) == 0
    assert f"Usage: ventfusion {' '.join(path)}" in " ".join(capsys.readouterr().out.split())


def test_every_top_level_command_is_documented() -> None:
    text = "\n".join(p.read_text() for p in [*DOCS.rglob("*.md"), DOCS.parent / "README.md"])
    missing = sorted({p[0] for p in COMMANDS if f"ventfusion {p[0]}" not in text})
    assert not missing, f"not in docs/ or README.md: {missing}"


def test_unknown_subcommand_is_a_usage_error() -> None:
    assert main(["no-such-command"]) == 2


def test_invalid_configuration_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VENTFUSION_PORT", "not-a-port")
    assert main(["serve"]) == 2
    assert "invalid configuration" in capsys.readouterr().err


def test_unknown_architecture_is_a_clear_cli_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--cohort", "c", "--out", "m.pt", "--arch", "transformerish"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--arch must be one of auto, gated, concat, ehr_only, image_only" in err


def test_cli_starts_without_importing_torch() -> None:
    import subprocess
    import sys

    code = "import sys, cds_app.cli.main; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
