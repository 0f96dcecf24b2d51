"""CDS Hooks settings section (``VENTFUSION_HOOKS__*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel


class HooksSettings(BaseModel):
    insecure: bool = False  # accept unsigned calls; refused on non-loopback binds
    trusted_issuers: dict[str, str] = {}  # iss -> JWKS URL or path to a JWKS file
    jwks_file: Path | None = None
    audience: str = ""  # exact aud expected; default: <base_url>/cds-services/<id>
    low_risk_card: bool = False  # show an info card at low risk
    cors_origins: list[str] = []
    fhir_timeout_s: float = 2.0  # budget for the fhirServer fallback before answering 412
