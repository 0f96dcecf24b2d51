"""Small HMAC-signed, expiring tokens for cookies (state of a SMART launch, page sessions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs JSON payloads with an expiry; ``load`` returns None on any tampering or expiry."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._key = hashlib.sha256(secret + b"|" + purpose.encode()).digest()

    def dump(self, payload: dict[str, Any], ttl_s: float) -> str:
        """A token carrying ``payload`` for ``ttl_s`` seconds."""
        body = _b64(orjson.dumps({"p": payload, "exp": time.time() + ttl_s}))
        mac = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        return f"{body}.{mac}"

    def load(self, token: str | None) -> dict[str, Any] | None:
        """The payload of a valid, unexpired token."""
        if not token or "." not in token:
            return None
        body, mac = token.rsplit(".", 1)
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            data = orjson.loads(_unb64(body))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict) or float(data.get("exp", 0)) < time.time():
            return None
        payload = data.get("p")
        return payload if isinstance(payload, dict) else None
