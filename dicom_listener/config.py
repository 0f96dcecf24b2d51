"""Configuration of the listener: network, spool, identity mapping and film selection.

``cds_app`` maps its settings onto :class:`ListenerConfig`; this package never reads settings.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dicom_listener.convert_checks import SizeLimits

MIB = 1024 * 1024


class SelectionRules(BaseModel):
    """Which received instances are chest films to score (everything else is recorded, not scored).

    Values are compared upper-case. An empty set means "any value".
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    modalities: frozenset[str] = frozenset({"CR", "DX"})
    body_parts: frozenset[str] = frozenset({"CHEST", "THORAX"})
    #: when Body Part Examined is absent, accept if a description contains one of these words
    body_part_keywords: frozenset[str] = frozenset({"CHEST", "THORAX", "CXR", "LUNG"})
    views: frozenset[str] = frozenset({"AP", "PA"})
    #: when View Position is absent, accept if a description contains one of these words
    view_keywords: frozenset[str] = frozenset({"AP", "PA", "PORTABLE", "SUPINE"})
    #: each must appear in Image Type (PRIMARY; ORIGINAL is stricter: many CR films are DERIVED)
    required_image_type_values: frozenset[str] = frozenset({"PRIMARY"})
    #: site-specific: if non-empty, one of these must appear in a description or the station name
    required_keywords: frozenset[str] = frozenset()

    @field_validator(
        "modalities",
        "body_parts",
        "body_part_keywords",
        "views",
        "view_keywords",
        "required_image_type_values",
        "required_keywords",
        mode="before",
    )
    @classmethod
    def _upper(cls, value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(str(v).strip().upper() for v in value)
        return value


class ListenerConfig(BaseModel):
    """Everything the listener needs; built by the caller (CLI or app lifespan)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ae_title: str = Field(default="VENTFUSION", min_length=1, max_length=16)
    bind: str = "127.0.0.1"
    port: int = Field(default=11112, ge=0, le=65535)  # 0: any free port (tests)
    allowed_calling_aets: tuple[str, ...] = ()  # empty: any calling AE title
    require_called_aet: bool = True
    max_associations: int = Field(default=10, ge=1)
    #: concurrent connections from one address (a stalling or flooding peer cannot take them all)
    max_associations_per_peer: int = Field(default=5, ge=0)  # 0: no per-peer cap
    #: our maximum PDU length; a peer's PDU above it is refused from its header (bounded memory)
    max_pdu: int = Field(default=131072, ge=4096, le=16 * MIB)
    #: time from connecting to the A-ASSOCIATE-RQ (and for the TLS handshake)
    acse_timeout_s: float = Field(default=10.0, gt=0)
    #: an association idle this long is aborted; one PDU must arrive within this time
    network_timeout_s: float = Field(default=30.0, gt=0)
    #: one command set or data set (all its fragments) must arrive within this time
    dimse_timeout_s: float = Field(default=300.0, gt=0)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None  # when set, client certificates signed by this CA are required

    spool_dir: Path
    max_spool_bytes: int = Field(default=0, ge=0)  # 0: limited by the disk only
    min_free_bytes: int = Field(default=64 * 1024 * 1024, ge=0)  # keep this much disk free
    keep_done_files: bool = False  # keep processed DICOM files (else only a done marker)

    timezone: str = "UTC"  # interpretation of DICOM dates/times without an offset
    default_patient_system: str = Field(min_length=1)  # identifier system without an issuer
    issuer_systems: dict[str, str] = {}  # IssuerOfPatientID -> identifier system

    #: limits checked from the header at receipt and again before decoding
    max_image_side: int = Field(default=16384, ge=64)  # Rows and Columns
    max_decoded_bytes: int = Field(default=128 * MIB, ge=MIB)  # pixel data once decoded
    max_dataset_bytes: int = Field(default=160 * MIB, ge=MIB)  # as received, or inflated
    #: acquisition times further ahead of this clock are refused (never a film time)
    max_clock_skew_s: float = Field(default=3600.0, ge=0)

    selection: SelectionRules = SelectionRules()
    workers: int = Field(default=1, ge=1)
    #: nice value of the processing threads (Linux): acknowledgements win when the CPU is short
    worker_nice: int = Field(default=5, ge=0, le=19)
    #: receipt first: a processing thread starts a film only once no data arrived on any
    #: association for this long (0: at once), waiting at most processing_max_wait_s
    processing_quiet_s: float = Field(default=0.05, ge=0)
    processing_max_wait_s: float = Field(default=2.0, ge=0)
    thumbnail_size: int = Field(default=256, ge=16, le=1024)
    retry_delay_s: float = Field(default=5.0, gt=0)  # failure back-off (doubles, max 5 min)
    #: decoder process: address space it may add (RLIMIT_AS), time per film, films per process
    decoder_memory_bytes: int = Field(default=3 * 1024 * MIB, ge=0)  # 0: no cap
    decoder_timeout_s: float = Field(default=120.0, gt=0)
    decoder_max_jobs: int = Field(default=200, ge=1)
    #: failed or interrupted processing attempts before an instance is quarantined
    max_attempts: int = Field(default=3, ge=1)
    rescan_interval_s: float = Field(default=60.0, gt=0)  # pending/ scanned for released files

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> ListenerConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both tls_cert and tls_key")
        if self.tls_ca is not None and self.tls_cert is None:
            raise ValueError("tls_ca (client certificates) needs tls_cert and tls_key")
        return self

    @model_validator(mode="after")
    def _dataset_holds_the_pixels(self) -> ListenerConfig:
        if self.max_dataset_bytes < self.max_decoded_bytes:
            raise ValueError("max_dataset_bytes must be at least max_decoded_bytes")
        return self

    @property
    def size_limits(self) -> SizeLimits:
        """The size limits of received instances."""
        return SizeLimits(
            max_side=self.max_image_side,
            max_decoded_bytes=self.max_decoded_bytes,
            max_dataset_bytes=self.max_dataset_bytes,
        )

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)
