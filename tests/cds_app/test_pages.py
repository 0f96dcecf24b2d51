"""Risk page: demo access, thumbnails, model card, audit (the SMART launch: test_smart_launch)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.settings import Settings
from tests.cds_app.fakes import FakeRiskModel
from tests.cds_app.page_data import FILM_UID, KEY, seed_patient


def _ctx(client: TestClient) -> AppContext:
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def test_demo_mode_serves_the_page_directly(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> None:
    with TestClient(create_app(make_settings(sqlite_url, demo=True), model=FakeRiskModel())) as c:
        seed_patient(_ctx(c))
        page = c.get("/risk", params={"key": str(KEY)})
        thumb = c.get(f"/films/{FILM_UID}/thumbnail.png", params={"key": str(KEY)})
        other = c.get(f"/films/{FILM_UID}/thumbnail.png", params={"key": "urn:x|other"})
        audit = _ctx(c).card_log.audit_events(action="page-viewed")
    assert page.status_code == 200
    html = page.text
    assert '<svg id="risk-chart"' in html
    assert 'id="risk-line"' in html
    assert "FiO2 up to 60% over 6 h" in html
    assert "Chest film from 3 h ago adds" in html
    assert f"films/{FILM_UID}/thumbnail.png" in html
    assert thumb.status_code == 200
    assert thumb.content.startswith(b"\x89PNG")
    assert other.status_code == 404
    assert [(a.actor, a.patient_key) for a in audit] == [("demo", str(KEY))]


def test_an_old_assessment_is_not_shown_as_the_current_risk(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> None:
    with TestClient(create_app(make_settings(sqlite_url, demo=True), model=FakeRiskModel())) as c:
        seed_patient(_ctx(c), now=datetime.now(UTC) - timedelta(hours=10))  # then data stopped
        html = c.get("/risk", params={"key": str(KEY)}).text
    assert 'id="probability"' not in html
    assert 'id="no-current-risk"' in html
    assert "the latest assessment is 10 h old" in html
    assert '<svg id="risk-chart"' in html  # the trend up to then is still shown


def test_page_needs_a_smart_session_outside_demo(client: TestClient) -> None:
    assert client.get("/risk", params={"key": str(KEY)}).status_code == 403
    assert (
        client.get(f"/films/{FILM_UID}/thumbnail.png", params={"key": str(KEY)}).status_code == 403
    )


def test_model_card_page(client: TestClient) -> None:
    page = client.get("/model-card")
    assert page.status_code == 200
    assert "fake-gated" in page.text
