"""Verification of signed JWTs against an issuer's JWK Set: one core for every token we accept.

CDS Hooks client JWTs (``cds_app.hooks.jwt_auth``), access tokens of the read-only FHIR API
(``access_tokens``) and the EHR's id_token at the end of a SMART launch all go through
``verify_signed_jwt``: asymmetric algorithms only, ``kid`` required and looked up in the JWK Set
of an allowlisted ``iss`` (never ``jku``), the key type matching the algorithm, signature, ``aud``,
``exp`` and the other required claims checked by PyJWT. Any failure raises ``TokenError``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKSet

from cds_app import CdsAppError

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
)
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class TokenError(CdsAppError):
    """A token that cannot be trusted (answered with 401)."""


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
                    raise TokenError(f"JWKS of the issuer unavailable: {exc}") from exc
                finally:
                    self._loaded_at = time.monotonic()
            found = self._keys.get(kid)
        if found is None:
            raise TokenError("unknown kid")
        return found


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("missing bearer token")
    return token.strip()


def verify_signed_jwt(
    token: str,
    issuers: Mapping[str, JwksSource],
    *,
    audience: str | list[str],
    leeway_s: float,
    require: Collection[str],
    typ: Collection[str | None] = (None, "JWT"),
) -> dict[str, Any]:
    """The verified claims of ``token`` signed by one of ``issuers`` for ``audience``."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenError(f"malformed token: {exc}") from exc
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise TokenError(f"algorithm {alg!r} not accepted (asymmetric algorithms only)")
    given = header.get("typ")
    accepted = [t.lower() if t else t for t in typ]  # typ is case-insensitive (RFC 7515 4.1.9)
    if (given.lower() if isinstance(given, str) else given) not in accepted:
        raise TokenError(f"typ {given!r} not accepted (expected {' or '.join(map(str, typ))})")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("kid header required")
    iss = unverified.get("iss")
    if not isinstance(iss, str) or iss not in issuers:
        raise TokenError("issuer not trusted")
    key = issuers[iss].key(kid)
    if _KEY_TYPES[alg[:2]] != key.key_type:
        raise TokenError("alg does not match the key type")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=[alg],
            audience=audience,
            issuer=iss,
            leeway=leeway_s,
            options={"require": ["iss", "aud", "exp", *require], "strict_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    return claims
