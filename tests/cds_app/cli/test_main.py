from __future__ import annotations

import pytest

from cds_app.cli.main import main

SUBCOMMANDS = ["serve", "dicom-listen", "synth", "train", "evaluate", "demo", "fhir-subscribe"]


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
