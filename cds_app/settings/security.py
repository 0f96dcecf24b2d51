"""Security settings: log pseudonym key, request-size limits, the read API's authorization
server, and the EHRs allowed to launch the risk page (``VENTFUSION_SECURITY__*``,
``VENTFUSION_READ_API__*``, ``VENTFUSION_SMART__*``). Described in docs/operations.md.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

MIB = 1024 * 1024


class SecuritySettings(BaseModel):
    """Pseudonym key and per-endpoint request-size limits (``VENTFUSION_SECURITY__*``)."""

    # HMAC key of the log pseudonyms (>= 32 characters), or a file holding it. Required outside
    # the embedded default; there, empty means <data_dir>/pseudonym.key (generated, mode 0600).
    pseudonym_key: SecretStr = SecretStr("")
    pseudonym_key_file: Path | None = None
    # Largest request body each endpoint reads (bytes; declared Content-Length or streamed).
    max_hook_body_bytes: int = Field(default=16 * MIB, ge=1024)
    max_feedback_body_bytes: int = Field(default=1 * MIB, ge=1024)
    max_notification_body_bytes: int = Field(default=32 * MIB, ge=1024)
    max_other_body_bytes: int = Field(default=64 * 1024, ge=0)  # every other route

    @field_validator("pseudonym_key")
    @classmethod
    def _long_enough(cls, key: SecretStr) -> SecretStr:
        value = key.get_secret_value()
        if value and len(value.encode()) < 32:
            raise ValueError("VENTFUSION_SECURITY__PSEUDONYM_KEY needs at least 32 characters")
        return key

    @property
    def pseudonym_key_configured(self) -> bool:
        return bool(self.pseudonym_key.get_secret_value()) or self.pseudonym_key_file is not None


class ReadApiSettings(BaseModel):
    """The authorization server whose access tokens the read-only FHIR API accepts.

    Without ``issuer`` and ``jwks`` the read API (``/fhir/RiskAssessment``, ``/fhir/Device``)
    is not mounted at all.
    """

    issuer: str = ""  # the `iss` of its access tokens
    jwks: str = ""  # its JWK Set: https URL or file path
    audience: str = ""  # the `aud` our tokens must carry; default <public base URL>/fhir
    clock_skew_s: float = Field(default=30.0, ge=0)
    jwks_refresh_s: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _both_or_neither(self) -> ReadApiSettings:
        if bool(self.issuer) != bool(self.jwks):
            raise ValueError("VENTFUSION_READ_API__ISSUER and __JWKS are set together")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.jwks)


class SmartEhr(BaseModel):
    """One EHR allowed to launch the risk page, and our client registration with it."""

    client_id: str = Field(min_length=1)  # the id_token's aud
    jwks: str = ""  # id_token keys (URL or file); "": the jwks_uri of the EHR's discovery
    issuer: str = ""  # the id_token's iss; "": the discovered OpenID issuer, else the launch iss


def normalise_iss(iss: str) -> str:
    """The form allowlisted ``iss`` values are compared in (no trailing slash)."""
    return iss.strip().rstrip("/")


class SmartSettings(BaseModel):
    """SMART App Launch of the risk page (``VENTFUSION_SMART__*``)."""

    # Launch iss (the EHR's FHIR base) -> registration; a launch from any other iss is refused.
    ehrs: dict[str, SmartEhr] = {}
    scope: str = "launch openid fhirUser patient/Patient.rs"
    session_secret: SecretStr = SecretStr("")  # signs cookies; empty: random per process
    session_ttl_s: int = Field(default=3600, gt=0, le=12 * 3600)  # page session lifetime
    launch_ttl_s: int = Field(default=600, gt=0, le=3600)  # launch -> callback at most
    timeout_s: float = Field(default=10.0, gt=0)  # discovery, token and JWKS requests

    @field_validator("ehrs")
    @classmethod
    def _normalised(cls, ehrs: dict[str, SmartEhr]) -> dict[str, SmartEhr]:
        out: dict[str, SmartEhr] = {}
        for iss, ehr in ehrs.items():
            if not iss.startswith(("https://", "http://")):
                raise ValueError(f"SMART EHR iss must be an http(s) URL, got {iss!r}")
            out[normalise_iss(iss)] = ehr
        return out

    def ehr(self, iss: str) -> SmartEhr | None:
        """The registration of an allowlisted launch ``iss`` (None: not allowed)."""
        return self.ehrs.get(normalise_iss(iss))
