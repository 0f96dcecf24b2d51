"""SMART App Launch (EHR launch, public client with PKCE S256) for the risk page."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from cds_app import CdsAppError


class SmartLaunchError(CdsAppError):
    """The launch cannot proceed (answered with 400)."""


@dataclass(frozen=True, slots=True)
class SmartEndpoints:
    authorize: str
    token: str


def pkce_pair() -> tuple[str, str]:
    """A PKCE ``(code_verifier, code_challenge)`` with method S256."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return verifier, challenge


async def discover(client: httpx.AsyncClient, iss: str) -> SmartEndpoints:
    """The EHR's authorize and token endpoints from ``<iss>/.well-known/smart-configuration``."""
    url = f"{iss.rstrip('/')}/.well-known/smart-configuration"
    try:
        response = await client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        config: Any = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SmartLaunchError(f"SMART configuration of the EHR unavailable: {exc}") from exc
    authorize = config.get("authorization_endpoint") if isinstance(config, dict) else None
    token = config.get("token_endpoint") if isinstance(config, dict) else None
    if not isinstance(authorize, str) or not isinstance(token, str):
        raise SmartLaunchError("SMART configuration lacks authorization/token endpoints")
    if "S256" not in (config.get("code_challenge_methods_supported") or ["S256"]):
        raise SmartLaunchError("the EHR does not support PKCE S256")
    return SmartEndpoints(authorize, token)


def authorize_url(
    endpoints: SmartEndpoints,
    *,
    client_id: str,
    redirect_uri: str,
    scope: str,
    launch: str,
    state: str,
    aud: str,
    challenge: str,
) -> str:
    """The authorization request the browser is redirected to."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "launch": launch,
            "state": state,
            "aud": aud,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    sep = "&" if "?" in endpoints.authorize else "?"
    return f"{endpoints.authorize}{sep}{query}"


async def exchange_code(
    client: httpx.AsyncClient,
    token_url: str,
    *,
    code: str,
    redirect_uri: str,
    client_id: str,
    verifier: str,
) -> dict[str, Any]:
    """Trade the authorization code for the token response (patient, appContext, ...)."""
    try:
        response = await client.post(
            token_url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            },
            headers={"Accept": "application/json"},
        )
        response.raise_for_status()
        body: Any = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SmartLaunchError(f"token exchange failed: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise SmartLaunchError("token response without access_token")
    return body
