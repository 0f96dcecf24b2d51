"""The risk page only through a SMART launch from an allowlisted EHR (a fake EHR with its own keys).

The browser is a TestClient on the app (its cookie jar); the EHR's authorization server is a
real HTTP server the test visits with httpx, as the browser would follow the redirects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.settings import Settings
from cds_app.settings.security import SmartSettings
from tests.cds_app.conftest import BASE_URL
from tests.cds_app.fakes import FakeRiskModel
from tests.cds_app.page_data import FILM_UID, KEY, seed_patient
from tests.support.server import running_server
from tests.support.smart_ehr import FORGERIES, SmartEhr


@pytest.fixture
def fake_ehr() -> Iterator[SmartEhr]:
    ehr = SmartEhr()
    with running_server(ehr.app()) as base:
        ehr.base = base
        yield ehr


@pytest.fixture
def browser(
    sqlite_url: str, make_settings: Callable[..., Settings], fake_ehr: SmartEhr
) -> Iterator[TestClient]:
    smart = SmartSettings.model_validate(
        {"ehrs": {fake_ehr.iss: {"client_id": fake_ehr.client_id}}}
    )
    settings = make_settings(sqlite_url).model_copy(update={"smart": smart})
    with TestClient(create_app(settings, model=FakeRiskModel()), base_url=BASE_URL) as client:
        ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
        seed_patient(ctx)
        ctx.store.upsert_patient(KEY.model_copy(update={"value": "MRN-OTHER"}), fhir_id="pt-other")
        yield client


def _launch(browser: TestClient, iss: str) -> httpx.Response:
    return browser.get("/smart/launch", params={"iss": iss, "launch": "lx-1"},
                       follow_redirects=False)  # fmt: skip


def _through_the_ehr(browser: TestClient, launch: httpx.Response) -> httpx.Response:
    """Follow the redirect to the EHR's authorize endpoint, then back to our callback."""
    assert launch.status_code == 302, launch.text
    at_ehr = httpx.get(launch.headers["location"], follow_redirects=False)
    assert at_ehr.status_code == 302, at_ehr.text
    back = urlsplit(at_ehr.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == BASE_URL
    return browser.get(f"{back.path}?{back.query}", follow_redirects=False)


def _cookie(response: httpx.Response, prefix: str) -> SimpleCookie:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(prefix):
            return SimpleCookie(header)
    raise AssertionError(f"no {prefix} cookie in {response.headers.get_list('set-cookie')}")


def test_launch_opens_the_launched_patient_only(browser: TestClient, fake_ehr: SmartEhr) -> None:
    launch = _launch(browser, fake_ehr.iss)
    target = urlsplit(launch.headers["location"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{fake_ehr.base}/auth/authorize"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["client_id"] == "ventfusion-risk-page"
    assert query["redirect_uri"] == f"{BASE_URL}/smart/callback"
    assert query["aud"] == fake_ehr.iss
    assert query["launch"] == "lx-1"
    assert "openid" in query["scope"].split()
    assert query["state"]
    assert query["nonce"]
    launch_cookie = _cookie(launch, "vf_launch_")
    (morsel,) = launch_cookie.values()
    assert morsel["httponly"]
    assert morsel["secure"]
    assert morsel["samesite"] == "lax"
    assert morsel["path"] == "/smart/callback"
    assert morsel["max-age"] == "600"

    callback = _through_the_ehr(browser, launch)
    assert callback.status_code == 302, callback.text
    assert callback.headers["location"] == f"{BASE_URL}/risk"  # no MRN in the URL
    session = _cookie(callback, "vf_session")["vf_session"]
    assert session["httponly"]
    assert session["secure"]
    assert session["samesite"] == "lax"
    assert session["max-age"] == "3600"

    page = browser.get("/risk")
    assert page.status_code == 200
    assert '<svg id="risk-chart"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert browser.get("/risk", params={"key": str(KEY)}).status_code == 200
    assert (
        browser.get(f"/films/{FILM_UID}/thumbnail.png", params={"key": str(KEY)}).status_code == 200
    )
    # another patient's page and film are refused within this session
    other = str(KEY.model_copy(update={"value": "MRN-OTHER"}))
    assert browser.get("/risk", params={"key": other}).status_code == 403
    assert browser.get(f"/films/{FILM_UID}/thumbnail.png", params={"key": other}).status_code == 403
    audit = browser.app.state.ctx.card_log.audit_events(action="page-viewed")  # type: ignore[attr-defined]
    assert {(a.actor, a.patient_key) for a in audit} == {("Practitioner/dr-lee", str(KEY))}


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example.net/fhir",
        "{ehr}.evil.example.net/fhir",  # the allowlisted URL as a prefix
        "{ehr}/fhir/../other",
        "{ehr}/fhir2",
    ],
)
def test_an_unlisted_iss_gets_an_error_page_never_a_redirect(
    browser: TestClient, fake_ehr: SmartEhr, iss: str
) -> None:
    response = _launch(browser, iss.format(ehr=fake_ehr.base))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "not allowed" in response.text
    assert not response.headers.get_list("set-cookie")
    assert fake_ehr.requests == []  # nothing was fetched from it either


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_id_token_is_refused(
    browser: TestClient, fake_ehr: SmartEhr, forgery: str
) -> None:
    fake_ehr.forge = forgery
    callback = _through_the_ehr(browser, _launch(browser, fake_ehr.iss))
    assert callback.status_code == 400
    assert "id_token" in callback.text
    assert not any(h.startswith("vf_session") for h in callback.headers.get_list("set-cookie"))
    assert browser.get("/risk", params={"key": str(KEY)}).status_code == 403


def test_state_is_bound_to_the_browser_that_launched(
    browser: TestClient, fake_ehr: SmartEhr
) -> None:
    launch = _launch(browser, fake_ehr.iss)
    at_ehr = httpx.get(launch.headers["location"], follow_redirects=False)
    back = urlsplit(at_ehr.headers["location"])
    victim = TestClient(browser.app, base_url=BASE_URL)  # another browser: no launch cookie
    answer = victim.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert answer.status_code == 400
    assert "not started in this browser" in answer.text
    forged = browser.get("/smart/callback", params={"code": "c", "state": "A" * 32},
                         follow_redirects=False)  # fmt: skip
    assert forged.status_code == 400
    # the real browser can still finish, once
    first = browser.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert first.status_code == 302
    replay = browser.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert replay.status_code == 400  # launch cookie gone, code used


def test_the_launched_patient_is_the_ehrs_not_the_browsers(
    browser: TestClient, fake_ehr: SmartEhr
) -> None:
    fake_ehr.patient = "pt-other"
    assert _through_the_ehr(browser, _launch(browser, fake_ehr.iss)).status_code == 302
    assert browser.get("/risk", params={"key": str(KEY)}).status_code == 403


def test_the_session_has_a_bounded_lifetime(
    browser: TestClient, fake_ehr: SmartEhr, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    assert _through_the_ehr(browser, _launch(browser, fake_ehr.iss)).status_code == 302
    assert browser.get("/risk").status_code == 200
    later = time.time() + 3601
    monkeypatch.setattr("cds_app.pages.signing.time.time", lambda: later)
    assert browser.get("/risk").status_code == 403


def test_no_page_without_a_launch(browser: TestClient) -> None:
    assert browser.get("/risk").status_code == 403
    assert browser.get("/risk", params={"key": str(KEY)}).status_code == 403
    tampered = browser.get("/risk", cookies={"vf_session": "eyJwIjp7fX0.forged"})
    assert tampered.status_code == 403


def test_malformed_launches_get_an_error_page(browser: TestClient) -> None:
    for params in ({}, {"iss": "https://ehr.example.org/fhir"}, {"launch": "x"}):
        answer = browser.get("/smart/launch", params=params, follow_redirects=False)
        assert answer.status_code == 400
        assert "location" not in answer.headers
    assert browser.get("/smart/callback", params={"code": "c"}).status_code == 400
