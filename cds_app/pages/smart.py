"""SMART App Launch of the risk page: EHR launch, public client, PKCE S256, OpenID Connect.

Only an EHR allowlisted in ``VENTFUSION_SMART__EHRS`` may launch: an unlisted ``iss`` is refused
before anything is fetched from it or anyone is redirected to it. The EHR's endpoints come from
``<iss>/.well-known/smart-configuration``; the id_token of the token response is verified
against the EHR's JWK Set (``cds_app.security.jwt_verify``): signature, ``iss``, ``aud`` = our
client id (``azp`` when several), ``exp``, ``iat`` and the launch's ``nonce``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from cds_app import CdsAppError
from cds_app.security.jwt_verify import JwksSource, TokenError, verify_signed_jwt
from cds_app.settings.security import SmartEhr, SmartSettings, normalise_iss


class SmartLaunchError(CdsAppError):
    """The launch cannot proceed (an error page, never a redirect)."""


@dataclass(frozen=True, slots=True)
class SmartEndpoints:
    authorize: str
    token: str
    issuer: str  # the OpenID issuer of its id_tokens ("" when the EHR does not say)
    jwks_uri: str  # "" when the EHR does not publish one in its SMART configuration


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of a PKCE ``code_verifier``."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _text(config: dict[str, Any], name: str) -> str:
    value = config.get(name)
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else ""


class SmartLauncher:
    """The allowlist, discovery, code exchange and id_token check of one app."""

    def __init__(self, settings: SmartSettings, *, redirect_uri: str) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        self._discovered: dict[str, tuple[float, SmartEndpoints]] = {}
        self._keys: dict[tuple[str, str], JwksSource] = {}

    def registration(self, iss: str) -> SmartEhr:
        """Our registration with an allowlisted EHR; SmartLaunchError for any other ``iss``."""
        ehr = self.settings.ehr(iss)
        if ehr is None:
            raise SmartLaunchError("this EHR is not allowed to launch VentFusion")
        return ehr

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.settings.timeout_s, follow_redirects=False)

    async def discover(self, iss: str) -> SmartEndpoints:
        """The EHR's endpoints (cached for the length of a launch)."""
        iss = normalise_iss(iss)
        self.registration(iss)
        cached = self._discovered.get(iss)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        url = f"{iss}/.well-known/smart-configuration"
        try:
            async with self._client() as client:
                response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            config: Any = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SmartLaunchError(f"SMART configuration of the EHR unavailable: {exc}") from exc
        if not isinstance(config, dict):
            raise SmartLaunchError("SMART configuration of the EHR is not a JSON object")
        endpoints = SmartEndpoints(
            _text(config, "authorization_endpoint"),
            _text(config, "token_endpoint"),
            config["issuer"] if isinstance(config.get("issuer"), str) else "",
            _text(config, "jwks_uri"),
        )
        if not endpoints.authorize or not endpoints.token:
            raise SmartLaunchError("SMART configuration lacks authorization/token endpoints")
        if "S256" not in (config.get("code_challenge_methods_supported") or ["S256"]):
            raise SmartLaunchError("the EHR does not support PKCE S256")
        self._discovered[iss] = (time.monotonic() + self.settings.launch_ttl_s, endpoints)
        return endpoints

    def authorize_url(
        self, endpoints: SmartEndpoints, iss: str, *, launch: str, state: str, nonce: str,
        verifier: str,
    ) -> str:  # fmt: skip
        """The authorization request the browser is redirected to (at the allowlisted EHR)."""
        query = urlencode({
            "response_type": "code",
            "client_id": self.registration(iss).client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.settings.scope,
            "launch": launch,
            "state": state,
            "nonce": nonce,
            "aud": normalise_iss(iss),
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        })  # fmt: skip
        sep = "&" if "?" in endpoints.authorize else "?"
        return f"{endpoints.authorize}{sep}{query}"

    async def exchange_code(
        self, endpoints: SmartEndpoints, iss: str, *, code: str, verifier: str
    ) -> dict[str, Any]:
        """Trade the authorization code (with the PKCE verifier) for the token response."""
        form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": self.redirect_uri,
                "client_id": self.registration(iss).client_id}  # fmt: skip
        try:
            async with self._client() as client:
                response = await client.post(
                    endpoints.token, data=form, headers={"Accept": "application/json"}
                )
            response.raise_for_status()
            body: Any = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SmartLaunchError(f"token exchange failed: {exc}") from exc
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise SmartLaunchError("token response without access_token")
        return body

    def verify_id_token(
        self, endpoints: SmartEndpoints, iss: str, id_token: object, *, nonce: str
    ) -> dict[str, Any]:
        """The verified claims of the token response's id_token (blocking: JWKS fetch)."""
        ehr = self.registration(iss)
        if not isinstance(id_token, str) or not id_token:
            raise SmartLaunchError("the EHR sent no id_token (scope openid)")
        issuer = ehr.issuer or endpoints.issuer or normalise_iss(iss)
        location = ehr.jwks or endpoints.jwks_uri
        if not location:
            raise SmartLaunchError("no JWKS for the EHR's id_token (configure its jwks)")
        source = self._keys.setdefault((issuer, location), JwksSource(location))
        try:
            claims = verify_signed_jwt(
                id_token,
                {issuer: source},
                audience=ehr.client_id,
                leeway_s=30.0,
                require=("iat", "sub", "nonce"),
            )
        except TokenError as exc:
            raise SmartLaunchError(f"id_token refused: {exc}") from exc
        if not secrets.compare_digest(str(claims["nonce"]), nonce):
            raise SmartLaunchError("id_token refused: nonce does not match this launch")
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != ehr.client_id:
            raise SmartLaunchError("id_token refused: azp is not our client id")
        return claims
