"""The pseudonym key: generated 0600 for the embedded default, required anywhere else."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cds_app.cli.main import main
from cds_app.security.pseudonym_key import KEY_FILE_NAME, PseudonymKeyError, build_pseudonymiser
from cds_app.settings import Settings

MRN = "urn:oid:1.2|SYN7-000001"


def _embedded(data_dir: Path) -> Settings:
    return Settings.model_validate({"data_dir": str(data_dir)})


def test_embedded_default_generates_a_private_key_once(tmp_path: Path) -> None:
    first = build_pseudonymiser(_embedded(tmp_path / "var"))
    key_file = tmp_path / "var" / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes().strip()) == 64
    again = build_pseudonymiser(_embedded(tmp_path / "var"))
    assert again(MRN) == first(MRN)  # kept across restarts
    other = build_pseudonymiser(_embedded(tmp_path / "elsewhere"))
    assert other(MRN) != first(MRN)  # each installation its own secret


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    build_pseudonymiser(_embedded(tmp_path))
    os.chmod(tmp_path / KEY_FILE_NAME, 0o644)
    with pytest.raises(PseudonymKeyError, match="chmod 600"):
        build_pseudonymiser(_embedded(tmp_path))


@pytest.mark.parametrize(
    "outside",
    [
        {"host": "0.0.0.0"},
        {"public_base_url": "https://cds.example.org"},
        {"database_url": "postgresql+psycopg://vf@db/vf"},
    ],
)
def test_required_outside_the_embedded_default(outside: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="PSEUDONYM_KEY"):
        Settings.model_validate(outside)
    configured = Settings.model_validate({**outside, "security": {"pseudonym_key": "k" * 40}})
    assert build_pseudonymiser(configured)(MRN).startswith("pt-")


def test_configured_key_and_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("f" * 40 + "\n")
    from_env = Settings.model_validate({"security": {"pseudonym_key": "f" * 40}})
    from_file = Settings.model_validate({"security": {"pseudonym_key_file": str(key_file)}})
    assert build_pseudonymiser(from_env)(MRN) == build_pseudonymiser(from_file)(MRN)
    with pytest.raises(ValueError, match="32 characters"):
        Settings.model_validate({"security": {"pseudonym_key": "change-me"}})
    short = Settings.model_validate({"security": {"pseudonym_key_file": str(tmp_path / "nope")}})
    with pytest.raises(PseudonymKeyError, match="cannot read"):
        build_pseudonymiser(short)


def test_cli_fails_closed_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENTFUSION_HOST", "0.0.0.0")
    assert main(["serve"]) == 2


def test_cli_prints_a_patients_token_under_the_current_or_an_old_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.key"
    old.write_text("o" * 40)
    monkeypatch.setenv("VENTFUSION_SECURITY__PSEUDONYM_KEY", "n" * 40)
    assert main(["pseudonym", MRN]) == 0
    current = capsys.readouterr().out.strip()
    assert main(["pseudonym", MRN, "--key-file", str(old)]) == 0
    before_rotation = capsys.readouterr().out.strip()
    from cds_app.logging_setup import Pseudonymiser

    assert current == Pseudonymiser(b"n" * 40)(MRN)
    assert before_rotation == Pseudonymiser(b"o" * 40)(MRN)
    assert main(["pseudonym", "no-system"]) == 2
