"""FHIR adapter settings section (``VENTFUSION_FHIR__*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class FhirSettings(BaseModel):
    base_url: str = ""  # the EHR's FHIR R4 endpoint; empty: no FHIR server configured
    auth: Literal["none", "bearer", "smart"] = "none"
    bearer_token: str = ""
    smart_client_id: str = ""
    smart_token_url: str = ""
    smart_private_key: Path | None = None
    smart_key_id: str = ""
    smart_algorithm: Literal["RS384", "ES384"] = "RS384"
    smart_scope: str = "system/Observation.rs system/Patient.rs system/RiskAssessment.cu"
    notification_secret: str = ""  # shared secret expected in the notification header
    mrn_system: str = ""  # default: the top-level patient_id_system
    poll_interval_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    write_back: bool = True  # queue RiskAssessments for the EHR
    notification_header: str = "X-VentFusion-Secret"  # header carrying notification_secret
    # mTLS instead of (or besides) the secret: the header a TLS-terminating proxy sets to
    # "SUCCESS" after verifying the EHR's client certificate (nginx: $ssl_client_verify).
    notification_client_cert_header: str = ""
    local_codes_file: Path | None = None  # JSON list of {"system","code","variable"}
    subscription_style: Literal["r4", "backport"] = "r4"
    subscription_payload: Literal["empty", "id-only", "full-resource"] = "id-only"
    subscription_criteria: str = "Observation?category=vital-signs,laboratory"
    subscription_topic: str = "http://ventfusion.example/SubscriptionTopic/observation-changed"
    ventilation_local_code: str = ""  # "system|code" also meaning "ventilation started"
    write_provenance: bool = False  # also write a Provenance per RiskAssessment
