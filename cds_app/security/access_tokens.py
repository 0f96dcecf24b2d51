"""Access tokens of the read-only FHIR API: JWTs of one authorization server, with SMART scopes.

Scopes follow SMART App Launch v1 (``patient/RiskAssessment.read``, ``.write``, ``.*``) and v2
(``system/RiskAssessment.rs``: letters of ``cruds`` in that order). Read needs ``r``, search
needs ``s`` (v1 ``read`` and ``*`` grant both). ``system/`` and ``user/`` scopes reach every
patient; ``patient/`` scopes only the patient named by the token's ``patient`` claim. Granular v2
scopes (``…?category=…``) restrict by criteria we do not evaluate, so they grant nothing here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from cds_app.security.jwt_verify import JwksSource, TokenError, bearer_token, verify_signed_jwt

Interaction = Literal["read", "search"]
_SCOPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.([a-z*]+)$")
_V2_ORDER = "cruds"
# RFC 9068 access tokens say "at+jwt"; many servers still say "JWT" or nothing.
ACCESS_TOKEN_TYPES = (None, "JWT", "at+jwt", "application/at+jwt")


class ForbiddenError(TokenError):
    """A valid token whose scopes do not cover the request (answered with 403)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """One parsed SMART resource scope."""

    context: Literal["patient", "user", "system"]
    resource: str  # a FHIR resource type or "*"
    read: bool
    search: bool

    def covers(self, resource_type: str, interaction: Interaction) -> bool:
        """Whether this scope grants ``interaction`` on ``resource_type``."""
        if self.resource not in ("*", resource_type):
            return False
        return self.read if interaction == "read" else self.search


def parse_scope(text: str) -> Scope | None:
    """A SMART v1 or v2 resource scope; None for anything else (launch, openid, granular, …)."""
    match = _SCOPE.match(text)
    if match is None:
        return None
    context, resource, action = match.groups()
    if action in ("read", "*"):
        read = search = True
    elif action == "write":
        read = search = False
    elif _is_ordered_subset(action):
        read, search = "r" in action, "s" in action
    else:
        return None
    return Scope(context, resource, read, search)  # type: ignore[arg-type]


def _is_ordered_subset(action: str) -> bool:
    """``rs``, ``cruds``, ``r``: letters of ``cruds``, each once, in that order."""
    position = -1
    for letter in action:
        found = _V2_ORDER.find(letter)
        if found <= position:
            return False
        position = found
    return True


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What a verified access token lets its holder read."""

    subject: str
    client_id: str
    patient: str | None  # the patient context of patient/ scopes
    scopes: tuple[Scope, ...]

    def reach(self, resource_type: str, interaction: Interaction) -> Literal["all", "patient"]:
        """``all`` patients, or only ``patient``; raise ForbiddenError when not granted."""
        granted = [s for s in self.scopes if s.covers(resource_type, interaction)]
        if any(s.context in ("system", "user") for s in granted):
            return "all"
        if granted and self.patient:
            return "patient"
        if granted:
            raise ForbiddenError("patient/ scope without a patient in the token")
        raise ForbiddenError(f"no scope grants {interaction} of {resource_type}")


def _scopes(claims: dict[str, Any]) -> tuple[Scope, ...]:
    raw = claims.get("scope", claims.get("scp", ""))
    words = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return tuple(s for s in (parse_scope(w) for w in words if isinstance(w, str)) if s)


class AccessTokenVerifier:
    """Verifies ``Authorization: Bearer`` access tokens for the read API (``aud`` = our base)."""

    def __init__(
        self, issuer: str, keys: JwksSource, *, audience: str, leeway_s: float = 30.0
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._issuers = {issuer: keys}
        self._leeway_s = leeway_s

    def verify(self, authorization: str | None) -> AccessGrant:
        """The grant of a valid token; raise TokenError (401)."""
        claims = verify_signed_jwt(
            bearer_token(authorization),
            self._issuers,
            audience=self.audience,
            leeway_s=self._leeway_s,
            require=(),
            typ=ACCESS_TOKEN_TYPES,
        )
        patient = claims.get("patient")
        client_id = claims.get("client_id") or claims.get("azp") or ""
        return AccessGrant(
            subject=str(claims.get("sub") or ""),
            client_id=str(client_id),
            patient=patient if isinstance(patient, str) and patient else None,
            scopes=_scopes(claims),
        )
