"""`ventfusion demo` end to end: notifications, C-STORE, signed hooks, cards, write-back."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest

from cds_app.cli.main import main
from cds_app.demo.runner import DemoOptions, run_demo
from cds_app.logging_setup import configure_logging
from cds_app.settings import Settings
from tests.support.server import free_port


@pytest.mark.slow
def test_demo_runs_a_ward_through_the_real_app(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("INFO")  # as every entry point does
    caplog.set_level(logging.INFO)
    lines: list[str] = []
    settings = Settings.model_validate({"data_dir": str(tmp_path / "var"), "port": free_port()})
    report = run_demo(
        settings,
        DemoOptions(patients=3, live_hours=2, step_s=0.5, once=True),
        lines.append,
    )
    assert report.observations > 300  # 48 h backfill + live hours, through notifications
    assert report.films_sent >= 1  # chest films by C-STORE
    assert report.hooks == 6  # 3 patients x 2 live hours, JWT-signed
    assert len(report.cards) == 6  # low-risk info cards are on in the demo
    assert {indicator for _, indicator, _ in report.cards} <= {"info", "warning", "critical"}
    assert all(len(summary) < 140 for _, _, summary in report.cards)
    assert report.risk_assessments_written >= 3  # the outbox worker wrote back to the EHR
    assert len(report.page_urls) == 3
    assert any("/risk?key=" in line for line in lines)
    assert not any("answered 4" in line or "answered 5" in line for line in lines)
    # Clinical safety: no MRN (SYN<seed>-<n>), patient name or birth date reaches the logs.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert len(caplog.records) > 20  # ingest, C-STORE, scoring and hooks were all logged
    assert not re.search(r"SYN\d+-\d{6}", logged)
    assert "Synthetic" not in logged
    assert not re.search(r"\b(19\d\d|200\d)-01-01\b", logged)  # birth years


def test_demo_cli_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENTFUSION_DATA_DIR", str(tmp_path / "var"))
    port = free_port()
    code = main(["demo", "--patients", "1", "--live-hours", "1", "--step-seconds", "0.1",
                 "--once", "--port", str(port)])  # fmt: skip
    assert code == 0
    with pytest.raises(httpx.ConnectError):  # nothing left listening once the demo returns
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
