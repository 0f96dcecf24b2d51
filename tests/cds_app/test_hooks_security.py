"""Every CDS Hooks call is verified as the spec requires; failures are 401 JSON."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.settings import Settings
from tests.cds_app.conftest import BASE_URL, SERVICE_URL
from tests.cds_app.fakes import FakeRiskModel
from tests.cds_app.hooks_helpers import discovery
from tests.support.ehr import TestEhr, hook_request, patient, searchset


def _post(client: TestClient, token: str | None) -> tuple[int, dict[str, object]]:
    body = hook_request(
        "p1", prefetch={"patient": patient("p1", "MRN1"), "vitals": searchset([]),
                        "labs": searchset([])},
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = client.post("/cds-services/ventfusion-patient-view", json=body, headers=headers)
    return response.status_code, response.json()


@pytest.mark.parametrize("alg", ["RS384", "ES384", "RS256", "PS384"])
def test_valid_asymmetric_tokens_are_accepted(client: TestClient, ehr: TestEhr, alg: str) -> None:
    status, _ = _post(client, ehr.token(SERVICE_URL, alg=alg))
    assert status == 200


BAD_TOKENS: dict[str, Callable[[TestEhr], str]] = {
    "expired": lambda e: e.token(SERVICE_URL, issued_ago_s=900, lifetime_s=300),
    "wrong_aud": lambda e: e.token(f"{BASE_URL}/cds-services/other-service"),
    "aud_of_other_host": lambda e: e.token("https://evil.example.com/cds-services/ventfusion-patient-view"),
    "alg_none": lambda e: e.token(SERVICE_URL, alg="none"),
    "hmac": lambda e: e.token(SERVICE_URL, alg="HS256"),
    "unknown_kid": lambda e: e.token(SERVICE_URL, kid="rotated-away"),
    "no_kid": lambda e: e.token(SERVICE_URL, kid=""),
    "untrusted_iss": lambda e: e.token(SERVICE_URL, iss="https://other-ehr.example.net/"),
    "no_jti": lambda e: e.token(SERVICE_URL, drop=("jti",)),
    "no_exp": lambda e: e.token(SERVICE_URL, drop=("exp",)),
    "no_iat": lambda e: e.token(SERVICE_URL, drop=("iat",)),
    "issued_in_future": lambda e: e.token(SERVICE_URL, issued_ago_s=-600),
    "too_long_lived": lambda e: e.token(SERVICE_URL, lifetime_s=86_400),
    "signed_by_other_key": lambda e: TestEhr().token(SERVICE_URL),
    "garbage": lambda e: "not-a-jwt",
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_tokens_fail_closed_with_401(client: TestClient, ehr: TestEhr, case: str) -> None:
    status, body = _post(client, BAD_TOKENS[case](ehr))
    assert status == 401
    assert body["error"] == "invalid_token"
    assert body["error_description"]


def test_missing_authorization_is_401(client: TestClient) -> None:
    status, _ = _post(client, None)
    assert status == 401


def test_replayed_jti_is_rejected(client: TestClient, ehr: TestEhr) -> None:
    token = ehr.token(SERVICE_URL, jti="once-only-1")
    assert _post(client, token)[0] == 200
    status, body = _post(client, token)
    assert status == 401
    assert "replay" in str(body["error_description"])
    # the same jti in a fresh token is still a replay
    assert _post(client, ehr.token(SERVICE_URL, jti="once-only-1"))[0] == 401


def test_aud_as_array_is_accepted(client: TestClient, ehr: TestEhr) -> None:
    assert _post(client, ehr.token([SERVICE_URL]))[0] == 200


def test_discovery_requires_a_token_for_its_own_url(client: TestClient, ehr: TestEhr) -> None:
    assert discovery(client, ehr).status_code == 200
    assert discovery(client, ehr, aud=SERVICE_URL).status_code == 401
    assert client.get("/cds-services").status_code == 401


def test_401_carries_www_authenticate(client: TestClient, ehr: TestEhr) -> None:
    response = client.get("/cds-services")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_insecure_mode_is_explicit_and_loopback_only(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(sqlite_url, insecure=True)
    with TestClient(create_app(settings, model=FakeRiskModel())) as client:
        assert _post(client, None)[0] == 200
    with pytest.raises(ValueError, match="non-loopback"):
        Settings.model_validate({"host": "10.0.0.5", "hooks": {"insecure": True}})


def test_jwks_url_is_fetched_and_cached(
    sqlite_url: str,
    make_settings: Callable[..., Settings],
    ehr: TestEhr,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    fetched: list[str] = []

    def fake_get(url: str, **_: object) -> httpx.Response:
        fetched.append(url)
        return httpx.Response(200, json=ehr.jwks(), request=httpx.Request("GET", url))

    monkeypatch.setattr(httpx, "get", fake_get)
    url = "https://ehr.example.org/.well-known/jwks.json"
    settings = make_settings(sqlite_url, trusted_issuers={ehr.issuer: url})
    with TestClient(create_app(settings, model=FakeRiskModel())) as client:
        assert _post(client, ehr.token(SERVICE_URL))[0] == 200
        assert _post(client, ehr.token(SERVICE_URL, alg="ES384"))[0] == 200
    assert fetched == [url]


def test_cors_origins_are_configurable(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(sqlite_url, cors_origins=["https://ehr-ui.example.org"])
    with TestClient(create_app(settings, model=FakeRiskModel())) as client:
        ok = client.options(
            "/cds-services",
            headers={
                "Origin": "https://ehr-ui.example.org",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        other = client.options(
            "/cds-services",
            headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"},
        )
    assert ok.headers["access-control-allow-origin"] == "https://ehr-ui.example.org"
    assert "access-control-allow-origin" not in other.headers


def test_redis_replay_cache(ehr: TestEhr) -> None:
    import uuid
    from datetime import UTC, datetime, timedelta

    import redis

    from cds_app.hooks.jwt_auth import RedisReplayCache

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    cache = RedisReplayCache("redis://127.0.0.1:6379/0")
    jti = str(uuid.uuid4())
    expires = datetime.now(UTC) + timedelta(seconds=30)
    assert cache.first_use(ehr.issuer, jti, expires)
    assert not cache.first_use(ehr.issuer, jti, expires)
    assert cache.first_use("https://other.example.org/", jti, expires)
