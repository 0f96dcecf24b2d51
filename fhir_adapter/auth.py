"""Client authentication for the EHR's FHIR server: none, static bearer, SMART Backend Services.

SMART Backend Services (client-credentials grant with a ``private_key_jwt`` assertion signed
RS384 or ES384) fetches a token from the token endpoint, caches it until shortly before it
expires, and fetches a new one once if the FHIR server answers 401.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Literal

import httpx
import jwt
import orjson

from fhir_adapter.errors import FhirAuthError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
Algorithm = Literal["RS384", "ES384"]


class BearerAuth(httpx.Auth):
    """A static bearer token."""

    def __init__(self, token: str) -> None:
        if not token:
            raise FhirAuthError("bearer auth needs a token")
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class SmartBackendAuth(httpx.Auth):
    """SMART Backend Services: signed JWT assertion -> cached access token."""

    def __init__(
        self,
        *,
        client_id: str,
        token_url: str,
        private_key_pem: bytes,
        key_id: str,
        algorithm: Algorithm = "RS384",
        scope: str = "system/Observation.rs",
        refresh_margin_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (client_id and token_url and private_key_pem):
            raise FhirAuthError("SMART backend auth needs client_id, token_url and a private key")
        if algorithm not in ("RS384", "ES384"):
            raise FhirAuthError(f"unsupported SMART algorithm {algorithm!r} (RS384 or ES384)")
        self.client_id = client_id
        self.token_url = token_url
        self._key = private_key_pem
        self.key_id = key_id
        self.algorithm = algorithm
        self.scope = scope
        self._margin = refresh_margin_s
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.tokens_fetched = 0

    def client_assertion(self) -> str:
        """A fresh signed assertion (``iss``=``sub``=client id, ``aud``=token URL, 5 min)."""
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self.key_id, "typ": "JWT"} if self.key_id else {"typ": "JWT"}
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)

    def _token_request(self) -> httpx.Request:
        form = {
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.client_assertion(),
        }
        return httpx.Request(
            "POST", self.token_url, data=form, headers={"Accept": "application/json"}
        )

    def _accept_token(self, response: httpx.Response) -> str:
        if response.status_code != 200:
            raise FhirAuthError(f"token endpoint answered {response.status_code}")
        try:
            body = orjson.loads(response.content)
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 300))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise FhirAuthError("token endpoint answered without an access_token") from exc
        self._token = token
        self._expires_at = self._clock() + lifetime - self._margin
        self.tokens_fetched += 1
        return token

    def _valid_token(self) -> str | None:
        return self._token if self._token and self._clock() < self._expires_at else None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Only the async client is supported (the token cache is guarded by an asyncio lock)."""
        raise FhirAuthError("SmartBackendAuth needs httpx.AsyncClient")
        yield request  # pragma: no cover - makes this a generator, as httpx expects

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        for attempt in range(2):
            async with self._lock:
                token = self._valid_token()
                if token is None:
                    token_response = yield self._token_request()
                    await token_response.aread()
                    token = self._accept_token(token_response)
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code != 401 or attempt == 1:
                return
            self._token = None  # rejected: fetch a new one once


def build_auth(
    kind: str,
    *,
    bearer_token: str = "",
    client_id: str = "",
    token_url: str = "",
    private_key_pem: bytes = b"",
    key_id: str = "",
    algorithm: Algorithm = "RS384",
    scope: str = "",
) -> httpx.Auth | None:
    """The ``httpx.Auth`` for ``kind`` ("none", "bearer" or "smart")."""
    if kind == "none":
        return None
    if kind == "bearer":
        return BearerAuth(bearer_token)
    if kind == "smart":
        return SmartBackendAuth(
            client_id=client_id,
            token_url=token_url,
            private_key_pem=private_key_pem,
            key_id=key_id,
            algorithm=algorithm,
            scope=scope or "system/Observation.rs",
        )
    raise FhirAuthError(f"unknown FHIR auth kind {kind!r}")
