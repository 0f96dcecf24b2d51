"""A fake EHR authorization server for SMART App Launch tests, with its own signing keys.

It serves what a real EHR's SMART stack serves: ``/fhir/.well-known/smart-configuration``, an
authorize endpoint that approves at once (redirecting to the app's callback with a code), a
token endpoint that checks the code, client id, redirect URI and PKCE verifier and answers with
the launch context and an OpenID Connect id_token, and its JWK Set. Switches let a test make it
misbehave: forge the id_token in several ways, or name another patient.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.ehr import TestEhr

#: how ``forge`` tampers with the id_token
FORGERIES = ("other_key", "wrong_aud", "wrong_iss", "expired", "wrong_nonce", "no_nonce",
             "alg_none", "hs256", "missing")  # fmt: skip


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str


@dataclass
class SmartEhr:
    """State and behaviour of the fake EHR (``base`` is set once it is served)."""

    client_id: str = "ventfusion-risk-page"
    patient: str = "pt-page"
    user: str = "Practitioner/dr-lee"
    forge: str = ""  # one of FORGERIES, or "" for an honest EHR
    keys: TestEhr = field(default_factory=TestEhr)
    base: str = ""
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    _grants: dict[str, Grant] = field(default_factory=dict)

    @property
    def iss(self) -> str:
        """The FHIR base the EHR launches with (``iss``)."""
        return f"{self.base}/fhir"

    @property
    def issuer(self) -> str:
        """The OpenID issuer of its id_tokens."""
        return f"{self.base}/auth"

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/fhir/.well-known/smart-configuration", self._configuration),
            Route("/auth/authorize", self._authorize),
            Route("/auth/token", self._token, methods=["POST"]),
            Route("/auth/jwks", self._jwks),
        ])  # fmt: skip

    async def _configuration(self, request: Request) -> Response:
        self.requests.append(request.url.path)
        return JSONResponse({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.base}/auth/authorize",
            "token_endpoint": f"{self.base}/auth/token",
            "jwks_uri": f"{self.base}/auth/jwks",
            "code_challenge_methods_supported": ["S256"],
            "capabilities": ["launch-ehr", "client-public", "sso-openid-connect"],
        })  # fmt: skip

    async def _jwks(self, request: Request) -> Response:
        self.requests.append(request.url.path)
        return JSONResponse(self.keys.jwks())

    async def _authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        if query.get("code_challenge_method") != "S256" or query.get("client_id") != self.client_id:
            return JSONResponse({"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(16)
        self._grants[code] = Grant(query["client_id"], query["redirect_uri"],
                                   query["code_challenge"], query.get("nonce", ""))  # fmt: skip
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return RedirectResponse(target, 302)

    async def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        grant = self._grants.pop(str(form.get("code", "")), None)  # a code is used once
        verifier = str(form.get("code_verifier", ""))
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (
            grant is None
            or form.get("client_id") != grant.client_id
            or form.get("redirect_uri") != grant.redirect_uri
            or digest.rstrip(b"=").decode() != grant.challenge
        ):
            return JSONResponse({"error": "invalid_grant"}, 400)
        body: dict[str, Any] = {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "launch openid fhirUser patient/Patient.rs",
            "patient": self.patient,
        }
        if self.forge != "missing":
            body["id_token"] = self.id_token(grant.nonce)
        return JSONResponse(body)

    def id_token(self, nonce: str) -> str:
        """The id_token for a grant, tampered with as ``forge`` says."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": "dr-lee", "aud": self.client_id, "iat": now,
            "exp": now + 300, "nonce": nonce, "fhirUser": self.user,
        }  # fmt: skip
        key: Any = self.keys.rsa_key
        headers: dict[str, Any] = {"kid": "rsa-1"}
        if self.forge == "other_key":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif self.forge == "wrong_aud":
            claims["aud"] = "another-app"
        elif self.forge == "wrong_iss":
            claims["iss"] = "https://attacker.example.net/auth"
        elif self.forge == "expired":
            claims.update(iat=now - 900, exp=now - 600)
        elif self.forge == "wrong_nonce":
            claims["nonce"] = "not-the-launch-nonce"
        elif self.forge == "no_nonce":
            del claims["nonce"]
        if self.forge == "alg_none":
            head = {"alg": "none", "typ": "JWT", "kid": "rsa-1"}
            parts = [json.dumps(p).encode() for p in (head, claims)]
            return ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts) + "."
        if self.forge == "hs256":
            return jwt.encode(claims, "guessable-secret", algorithm="HS256", headers=headers)
        return jwt.encode(claims, key, algorithm="RS256", headers=headers)
