"""CDS Hooks settings section (``VENTFUSION_HOOKS__*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class HooksSettings(BaseModel):
    insecure: bool = False  # accept unsigned calls; refused on non-loopback binds
    trusted_issuers: dict[str, str] = {}  # iss -> JWKS URL or path to a JWKS file ("" = jwks_file)
    jwks_file: Path | None = None  # JWKS for issuers listed without their own location
    # Public base the EHR calls us at; aud must equal <audience>/cds-services[/<id>] exactly.
    # Default: the top-level base_url.
    audience: str = ""
    low_risk_card: bool = False  # show an info card at low risk
    cors_origins: list[str] = []
    fhir_timeout_s: float = Field(default=2.0, gt=0)  # fhirServer fallback budget, then 412
    clock_skew_s: float = Field(default=30.0, ge=0)  # leeway on exp/iat
    max_token_lifetime_s: float = Field(default=3600.0, gt=0)  # exp - iat beyond this: 401
    jwks_refresh_s: float = Field(default=60.0, ge=0)  # min interval between JWKS re-fetches
    # patient-view calls computing at once (cds_app.hooks.compute_gate); the others queue.
    # 0: one per core.
    compute_slots: int = Field(default=0, ge=0)
    # Risk page without a SMART launch (`ventfusion demo`); refused outside loopback mode.
    demo: bool = False
    service_id: str = "ventfusion-patient-view"
