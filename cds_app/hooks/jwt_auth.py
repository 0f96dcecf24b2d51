"""Verification of the CDS Client's JWT on every call (CDS Hooks 2.0 "Trusting CDS Clients").

Asymmetric algorithms only, ``kid`` required, ``iss`` from an allowlist whose JWKS comes from a
URL (fetched with httpx, cached, refreshed on an unknown ``kid`` at most every ``refresh_s``) or a
file, ``aud`` exactly the endpoint called, ``exp``/``iat`` required, ``jti`` never seen before.
Anything else fails closed with ``AuthError`` (401).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
from jwt import PyJWK, PyJWKSet

from cds_app import CdsAppError

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
)

_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class AuthError(CdsAppError):
    """The call is not authenticated; answered with 401."""


class ReplayCache(Protocol):
    def first_use(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """Remember ``(iss, jti)`` until ``expires_at``; False if it was already seen."""
        ...


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified identity of a call."""

    iss: str
    sub: str | None
    jti: str
    tenant: str | None


class JwksSource:
    """One issuer's JWK Set from a URL or a file, cached."""

    def __init__(self, location: str, *, refresh_s: float = 60.0, timeout_s: float = 2.0) -> None:
        self.location = location
        self._is_url = location.startswith(("https://", "http://"))
        self._refresh_s = refresh_s
        self._timeout_s = timeout_s
        self._keys: dict[str, PyJWK] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def _load(self) -> dict[str, PyJWK]:
        if self._is_url:
            response = httpx.get(self.location, timeout=self._timeout_s)
            response.raise_for_status()
            document: Any = response.json()
        else:
            document = json.loads(Path(self.location).read_text())
        keys: dict[str, PyJWK] = {}
        for key in PyJWKSet.from_dict(document).keys:
            if key.key_id:
                keys[key.key_id] = key
        return keys

    def key(self, kid: str) -> PyJWK:
        """The key ``kid``; reloads (rate-limited) when unknown, for key rotation."""
        with self._lock:
            found = self._keys.get(kid)
            if found is not None:
                return found
            if time.monotonic() - self._loaded_at >= self._refresh_s or not self._keys:
                try:
                    self._keys = self._load()
                except (OSError, ValueError, httpx.HTTPError, jwt.PyJWTError) as exc:
                    raise AuthError(f"JWKS of the issuer unavailable: {exc}") from exc
                finally:
                    self._loaded_at = time.monotonic()
            found = self._keys.get(kid)
        if found is None:
            raise AuthError("unknown kid")
        return found


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive, RFC
    7235), or None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class JwtVerifier:
    """Verifies bearer JWTs of trusted CDS Clients."""

    def __init__(
        self,
        issuers: dict[str, JwksSource],
        replay: ReplayCache,
        *,
        leeway_s: float = 30.0,
        max_lifetime_s: float = 3600.0,
    ) -> None:
        self._issuers = issuers
        self._replay = replay
        self._leeway_s = leeway_s
        self._max_lifetime_s = max_lifetime_s

    def verify(self, authorization: str | None, audience: str | list[str]) -> Caller:
        """Check an ``Authorization`` header for the endpoint ``audience``; raise AuthError."""
        token = bearer_token(authorization)
        if token is None:
            raise AuthError("missing bearer token")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthError(f"malformed token: {exc}") from exc
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthError(f"algorithm {alg!r} not accepted (asymmetric algorithms only)")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise AuthError("typ header must be JWT (CDS Hooks 2.0)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("kid header required")
        iss = unverified.get("iss")
        if not isinstance(iss, str) or iss not in self._issuers:
            raise AuthError("issuer not trusted")
        key = self._issuers[iss].key(kid)
        if _KEY_TYPES[alg[:2]] != key.key_type:
            raise AuthError("alg does not match the key type")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=audience,
                issuer=iss,
                leeway=self._leeway_s,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "strict_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        now = time.time()
        iat, exp = float(claims["iat"]), float(claims["exp"])
        if iat > now + self._leeway_s:
            raise AuthError("iat in the future")
        if exp - iat > self._max_lifetime_s:
            raise AuthError("token lifetime too long")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthError("jti required")
        if not self._replay.first_use(iss, jti, datetime.fromtimestamp(exp + self._leeway_s, UTC)):
            raise AuthError("jti already used (replay)")
        sub = claims.get("sub")
        tenant = claims.get("tenant")
        return Caller(
            iss=iss,
            sub=sub if isinstance(sub, str) else None,
            jti=jti,
            tenant=tenant if isinstance(tenant, str) else None,
        )


class RedisReplayCache:
    """``jti`` replay cache in Redis (``SET NX`` with expiry), shared by replicas."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url)

    def first_use(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """Remember ``(iss, jti)`` until ``expires_at``; False if it was already seen."""
        ttl = max(1, int((expires_at - datetime.now(UTC)).total_seconds()) + 1)
        return bool(self._client.set(f"ventfusion:jti:{iss}:{jti}", b"1", nx=True, ex=ttl))
