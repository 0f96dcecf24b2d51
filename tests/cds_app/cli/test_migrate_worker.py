from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from cds_app.cli.main import main


def test_migrate_command_creates_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "vf.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0  # idempotent
    assert "at head" in capsys.readouterr().out
    assert "predictions" in inspect(create_engine(f"sqlite:///{db}")).get_table_names()


def test_worker_needs_a_fhir_server(monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["worker"]) == 2
