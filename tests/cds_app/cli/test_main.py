from __future__ import annotations

import pytest

from cds_app.cli.main import main

SUBCOMMANDS = [
    "serve",
    "dicom-listen",
    "dicom-quarantine",
    "synth",
    "train",
    "evaluate",
    "demo",
    "fhir-subscribe",
    "pseudonym",
]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


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
