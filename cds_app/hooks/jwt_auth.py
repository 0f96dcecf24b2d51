"""Verification of the CDS Client's JWT on every call (CDS Hooks 2.0 "Trusting CDS Clients").

Asymmetric algorithms only, ``kid`` required, ``iss`` from an allowlist whose JWKS comes from a
URL (fetched with httpx, cached, refreshed on an unknown ``kid`` at most every ``refresh_s``) or a
file, ``aud`` exactly the endpoint called, ``exp``/``iat`` required, ``jti`` never seen before.
Anything else fails closed with ``TokenError`` (401).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from cds_app.security.jwt_verify import JwksSource, TokenError, bearer_token, verify_signed_jwt

__all__ = ["Caller", "JwksSource", "JwtVerifier", "RedisReplayCache", "ReplayCache"]


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
        """Check an ``Authorization`` header for the endpoint ``audience``; raise TokenError."""
        token = bearer_token(authorization)  # raises TokenError when there is none
        claims = verify_signed_jwt(
            token,
            self._issuers,
            audience=audience,
            leeway_s=self._leeway_s,
            require=("iat", "jti"),
            typ=("JWT",),  # CDS Hooks 2.0.1: typ REQUIRED, fixed value JWT
        )
        iss = str(claims["iss"])
        now = time.time()
        iat, exp = float(claims["iat"]), float(claims["exp"])
        if iat > now + self._leeway_s:
            raise TokenError("iat in the future")
        if exp - iat > self._max_lifetime_s:
            raise TokenError("token lifetime too long")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise TokenError("jti required")
        if not self._replay.first_use(iss, jti, datetime.fromtimestamp(exp + self._leeway_s, UTC)):
            raise TokenError("jti already used (replay)")
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
