"""The hospital's authorization server in tests: its own keys, a JWKS file, access tokens.

The read-only FHIR API accepts RFC 9068 JWT access tokens of one configured authorization
server (``VENTFUSION_READ_API__ISSUER`` + ``__JWKS``). Tests of that API, the fuzz test and
``bench/bench_fuzz.py`` sign their tokens here, so hostile requests reach the decoders rather
than the 401 path.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt

from cds_app.settings.security import ReadApiSettings
from tests.support.ehr import TestEhr

AUTH_ISS = "https://auth.example.org/realms/icu"
#: What a back-end service reading every patient's assessments and the model Device is granted.
SYSTEM_READ = "system/RiskAssessment.rs system/Device.r"


def auth_server(issuer: str = AUTH_ISS) -> TestEhr:
    """An authorization server with fresh keys (RSA ``rsa-1``, EC ``ec-1``)."""
    return TestEhr(issuer=issuer)


def read_api_settings(auth: TestEhr, directory: Path) -> ReadApiSettings:
    """Settings mounting the read API for ``auth``'s tokens (JWKS written to ``directory``)."""
    jwks = auth.write_jwks(directory / "auth-jwks.json")
    return ReadApiSettings(issuer=auth.issuer, jwks=str(jwks))


def access_token(
    auth: TestEhr, scope: str, *, audience: str, alg: str = "RS384", **claims: Any
) -> str:
    """An access token of ``auth`` for ``audience`` (``<base>/fhir``); a claim set to None is
    left out; ``alg="HS256"`` signs with a shared secret (which must never verify)."""
    now = int(time.time())
    body = {"iss": auth.issuer, "sub": "svc-analytics", "aud": audience, "iat": now,
            "exp": now + 300, "client_id": "analytics", "scope": scope, **claims}  # fmt: skip
    body = {k: v for k, v in body.items() if v is not None}
    key: Any = auth.ec_key if alg.startswith("ES") else auth.rsa_key
    kid = "ec-1" if alg.startswith("ES") else "rsa-1"
    if alg == "HS256":
        return jwt.encode(body, "a-shared-secret-that-must-not-work!", algorithm="HS256",
                          headers={"kid": kid})  # fmt: skip
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid, "typ": "at+jwt"})


def read_headers(
    auth: TestEhr, audience: str, scope: str = SYSTEM_READ, **claims: Any
) -> dict[str, str]:
    """``Authorization`` with a fresh access token (``patient=`` for a patient/ scope)."""
    token = access_token(auth, scope, audience=audience, **claims)
    return {"Authorization": f"Bearer {token}"}
