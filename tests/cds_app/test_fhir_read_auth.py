"""The read-only FHIR API: verified access tokens with SMART scopes, or 401/403, or not mounted."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.security.access_tokens import parse_scope
from cds_app.settings import Settings
from tests.cds_app.conftest import READ_AUDIENCE
from tests.cds_app.fakes import FakeRiskModel
from tests.cds_app.page_data import seed_patient
from tests.support.auth_server import AUTH_ISS, access_token
from tests.support.ehr import TestEhr


def token(auth: TestEhr, scope: str, *, alg: str = "RS384", **claims: Any) -> str:
    """An access token of ``auth`` (RFC 9068 shape) for our FHIR base."""
    return access_token(auth, scope, audience=READ_AUDIENCE, alg=alg, **claims)


@pytest.fixture
def api(db_url: str, read_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(read_settings(db_url), model=FakeRiskModel())) as client:
        ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
        seed_patient(ctx)
        yield client


def _get(api: TestClient, path: str, bearer: str | None, **params: str) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return api.get(path, params=params, headers=headers)


def _newest_id(api: TestClient, auth: TestEhr) -> str:
    found = _get(api, "/fhir/RiskAssessment", token(auth, "system/RiskAssessment.rs"),
                 patient="pt-page").json()  # fmt: skip
    return str(found["entry"][0]["resource"]["id"])


def test_a_system_scoped_token_reads_and_searches(api: TestClient, auth_server: TestEhr) -> None:
    bearer = token(auth_server, "system/RiskAssessment.rs system/Device.r")
    bundle = _get(api, "/fhir/RiskAssessment", bearer, patient="Patient/pt-page").json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["total"] == 13
    newest = bundle["entry"][0]["resource"]
    assert newest["subject"] == {"reference": "Patient/pt-page"}
    assert newest["prediction"][0]["outcome"]["coding"][0]["code"] == "40617009"
    one = _get(api, f"/fhir/RiskAssessment/{newest['id']}", bearer)
    assert one.headers["content-type"] == "application/fhir+json"
    assert one.headers["cache-control"] == "no-store"
    assert one.json() == newest
    device = _get(api, f"/fhir/{newest['performer']['reference']}", bearer)
    assert device.status_code == 200
    assert device.json()["resourceType"] == "Device"
    assert _get(api, "/fhir/RiskAssessment/999999", bearer).status_code == 404
    assert _get(api, "/fhir/RiskAssessment/" + "9" * 400, bearer).status_code == 404
    assert _get(api, "/fhir/RiskAssessment", bearer, patient="nobody").json()["total"] == 0
    assert api.post("/fhir/RiskAssessment/1").status_code == 405  # read-only
    assert api.get("/fhir/metadata").json()["rest"][0]["security"]["service"]


@pytest.mark.parametrize(
    "scope",
    ["system/RiskAssessment.read", "user/RiskAssessment.rs", "system/*.read", "user/*.cruds",
     "launch openid system/RiskAssessment.rs"],
)  # fmt: skip
def test_v1_and_v2_scopes_grant_the_read(api: TestClient, auth_server: TestEhr, scope: str) -> None:
    answer = _get(api, "/fhir/RiskAssessment", token(auth_server, scope), patient="pt-page")
    assert answer.status_code == 200


BAD_TOKENS: dict[str, Callable[[TestEhr], str | None]] = {
    "missing": lambda a: None,
    "garbage": lambda a: "not-a-jwt",
    "expired": lambda a: token(a, "system/RiskAssessment.rs", iat=int(time.time()) - 900,
                               exp=int(time.time()) - 600),
    "no_exp": lambda a: token(a, "system/RiskAssessment.rs", exp=None),
    "wrong_aud": lambda a: token(a, "system/RiskAssessment.rs", aud="https://other.example/fhir"),
    "no_aud": lambda a: token(a, "system/RiskAssessment.rs", aud=None),
    "wrong_iss": lambda a: token(a, "system/RiskAssessment.rs", iss="https://evil.example/"),
    "other_key": lambda a: token(TestEhr(issuer=AUTH_ISS), "system/RiskAssessment.rs"),
    "hmac": lambda a: token(a, "system/RiskAssessment.rs", alg="HS256"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_unauthenticated_reads_are_401(api: TestClient, auth_server: TestEhr, case: str) -> None:
    bearer = BAD_TOKENS[case](auth_server)
    for path, params in (("/fhir/RiskAssessment", {"patient": "pt-page"}),
                         ("/fhir/RiskAssessment/1", {}), ("/fhir/Device/x", {})):  # fmt: skip
        answer = _get(api, path, bearer, **params)
        assert answer.status_code == 401, (path, answer.text)
        assert answer.headers["www-authenticate"].startswith('Bearer realm="VentFusion FHIR"')
        outcome = answer.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "login"
        assert "pt-page" not in answer.text
        assert "MRN" not in answer.text


@pytest.mark.parametrize(
    "scope",
    ["system/Observation.rs", "system/RiskAssessment.c", "system/RiskAssessment.write",
     "system/RiskAssessment.rs?status=final", "patient/RiskAssessment.rs", "launch openid",
     "system/RiskAssessment.sr", ""],
)  # fmt: skip
def test_wrongly_scoped_reads_are_403(api: TestClient, auth_server: TestEhr, scope: str) -> None:
    answer = _get(api, "/fhir/RiskAssessment", token(auth_server, scope), patient="pt-page")
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert answer.json()["issue"][0]["code"] == "forbidden"
    assert "entry" not in answer.json()


def test_read_and_search_are_separate_rights(api: TestClient, auth_server: TestEhr) -> None:
    ra_id = _newest_id(api, auth_server)
    read_only = token(auth_server, "system/RiskAssessment.r")
    assert _get(api, f"/fhir/RiskAssessment/{ra_id}", read_only).status_code == 200
    assert _get(api, "/fhir/RiskAssessment", read_only, patient="pt-page").status_code == 403
    search_only = token(auth_server, "system/RiskAssessment.s")
    assert _get(api, f"/fhir/RiskAssessment/{ra_id}", search_only).status_code == 403
    no_device = token(auth_server, "system/RiskAssessment.rs")
    assert _get(api, "/fhir/Device/anything", no_device).status_code == 403


def test_a_patient_scoped_token_sees_its_patient_only(
    api: TestClient, auth_server: TestEhr
) -> None:
    ra_id = _newest_id(api, auth_server)
    mine = token(auth_server, "patient/RiskAssessment.rs", patient="pt-page")
    theirs = token(auth_server, "patient/RiskAssessment.rs", patient="pt-other")
    assert _get(api, "/fhir/RiskAssessment", mine, patient="pt-page").json()["total"] == 13
    assert _get(api, f"/fhir/RiskAssessment/{ra_id}", mine).status_code == 200
    assert _get(api, "/fhir/RiskAssessment", theirs, patient="pt-page").status_code == 403
    assert _get(api, f"/fhir/RiskAssessment/{ra_id}", theirs).status_code == 403


def test_lowercase_bearer_and_es384_are_accepted(api: TestClient, auth_server: TestEhr) -> None:
    bearer = token(auth_server, "system/RiskAssessment.rs", alg="ES384")
    answer = api.get("/fhir/RiskAssessment", params={"patient": "pt-page"},
                     headers={"Authorization": f"bearer {bearer}"})  # fmt: skip
    assert answer.status_code == 200


def test_not_mounted_without_an_authorization_server(client: TestClient) -> None:
    seed_patient(client.app.state.ctx)  # type: ignore[attr-defined]
    assert client.get("/fhir/RiskAssessment", params={"patient": "pt-page"}).status_code == 404
    assert client.get("/fhir/RiskAssessment/1").status_code == 404
    assert client.get("/fhir/metadata").status_code == 404
    assert "/fhir/RiskAssessment" not in client.get("/openapi.json").text


@pytest.mark.parametrize(
    ("text", "read", "search"),
    [("patient/RiskAssessment.read", True, True), ("user/RiskAssessment.rs", True, True),
     ("system/RiskAssessment.r", True, False), ("system/RiskAssessment.s", False, True),
     ("system/RiskAssessment.cruds", True, True), ("system/RiskAssessment.write", False, False),
     ("system/*.*", True, True)],
)  # fmt: skip
def test_scope_syntax(text: str, read: bool, search: bool) -> None:
    scope = parse_scope(text)
    assert scope is not None
    assert (scope.read, scope.search) == (read, search)


@pytest.mark.parametrize(
    "text", ["launch", "openid", "system/RiskAssessment.rs?status=final", "system/Risk.sr",
             "system/RiskAssessment.rr", "admin/RiskAssessment.read", "system/RiskAssessment."],
)  # fmt: skip
def test_scopes_that_grant_nothing(text: str) -> None:
    assert parse_scope(text) is None
