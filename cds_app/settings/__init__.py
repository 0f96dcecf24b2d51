"""One settings object per process, built at the entry point and passed down.

Environment variables use the prefix ``VENTFUSION_`` and ``__`` between a section and its field
(``VENTFUSION_DICOM__PORT=11112``). ``DATABASE_URL`` is shared with other tools and read unprefixed.
Every field is documented in ``.env.example``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cds_app.settings.dicom import DicomSettings
from cds_app.settings.fhir import FhirSettings
from cds_app.settings.hooks import HooksSettings
from cds_app.settings.model import ModelSettings
from cds_app.settings.security import ReadApiSettings, SecuritySettings, SmartSettings


class WorkerSettings(BaseModel):
    """Outbox worker section (``VENTFUSION_WORKER__*``)."""

    enabled: bool = True  # run the outbox worker inside `ventfusion serve`
    poll_s: float = Field(default=1.0, gt=0)
    batch: int = Field(default=50, ge=1)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class Settings(BaseSettings):
    """Settings of a VentFusion process (API, listener, worker, demo)."""

    model_config = SettingsConfigDict(
        env_prefix="VENTFUSION_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    database_url: str = Field(
        default="sqlite:///var/ventfusion.sqlite3",
        validation_alias=AliasChoices("DATABASE_URL", "VENTFUSION_DATABASE_URL"),
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str = ""  # how the EHR reaches us; default derived from host/port
    data_dir: Path = Path("var")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False
    timezone: str = "UTC"  # interpretation of local DICOM dates/times
    patient_id_system: str = "urn:oid:2.16.840.1.113883.4.1.999.1"  # the MRN system / DICOM issuer
    redis_url: str = ""  # optional: shared replay cache and debounce across replicas

    model: ModelSettings = ModelSettings()
    dicom: DicomSettings = DicomSettings()
    fhir: FhirSettings = FhirSettings()
    hooks: HooksSettings = HooksSettings()
    worker: WorkerSettings = WorkerSettings()
    security: SecuritySettings = SecuritySettings()
    read_api: ReadApiSettings = ReadApiSettings()
    smart: SmartSettings = SmartSettings()

    @model_validator(mode="after")
    def _insecure_only_on_loopback(self) -> Settings:
        for name, enabled in (("HOOKS__INSECURE", self.hooks.insecure),
                              ("HOOKS__DEMO", self.hooks.demo)):  # fmt: skip
            if enabled and not self.loopback_mode:
                raise ValueError(
                    f"VENTFUSION_{name}=true is refused on a non-loopback bind or public URL "
                    f"(host={self.host}, public base URL {self.base_url}); configure trusted "
                    "issuers / SMART EHRs instead"
                )
        return self

    @model_validator(mode="after")
    def _pseudonym_key_outside_embedded(self) -> Settings:
        if not self.embedded_default and not self.security.pseudonym_key_configured:
            raise ValueError(
                "VENTFUSION_SECURITY__PSEUDONYM_KEY (or _FILE) is required outside the embedded "
                "default (loopback, SQLite): every process of a deployment must share it"
            )
        return self

    @property
    def loopback_mode(self) -> bool:
        """Bound to a loopback address and reached at one: nothing outside this host can call."""
        public = urlsplit(self.base_url).hostname or ""
        return self.host in LOOPBACK_HOSTS and public in LOOPBACK_HOSTS

    @property
    def embedded_default(self) -> bool:
        """One process on loopback with its SQLite file (``make run``, ``ventfusion demo``)."""
        return self.loopback_mode and self.database_url.startswith("sqlite")

    @property
    def mrn_system(self) -> str:
        """The identifier system of patient MRNs in the EHR: ``fhir.mrn_system``, else
        ``patient_id_system`` (also the DICOM issuer)."""
        return self.fhir.mrn_system or self.patient_id_system

    @property
    def base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
