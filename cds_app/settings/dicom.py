"""DICOM listener settings section (``VENTFUSION_DICOM__*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

MIB = 1024 * 1024


class DicomSettings(BaseModel):
    enabled: bool = True
    ae_title: str = Field(default="VENTFUSION", min_length=1, max_length=16)
    bind: str = "127.0.0.1"
    port: int = Field(default=11112, ge=1, le=65535)
    allowed_calling_aets: list[str] = []  # empty: any calling AE title
    require_called_aet: bool = True  # refuse associations addressed to another AE title
    max_associations: int = Field(default=10, ge=1)
    max_associations_per_peer: int = Field(default=5, ge=0)  # 0: no per-address cap
    max_pdu: int = Field(default=131072, ge=4096, le=16 * MIB)
    acse_timeout_s: float = Field(default=10.0, gt=0)  # connect -> A-ASSOCIATE-RQ, TLS handshake
    network_timeout_s: float = Field(default=30.0, gt=0)  # idle association; one PDU
    dimse_timeout_s: float = Field(default=300.0, gt=0)  # one command or data set, all fragments
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None  # require client certificates signed by this CA
    spool_dir: Path | None = None  # default: <data_dir>/spool
    max_spool_bytes: int = Field(default=0, ge=0)  # unprocessed films; 0: limited by the disk
    min_free_bytes: int = Field(default=64 * 1024 * 1024, ge=0)  # refuse (0xA700) below this
    keep_done_files: bool = False  # keep processed DICOM files in <spool>/done
    issuer_systems: dict[str, str] = {}  # IssuerOfPatientID -> patient identifier system
    workers: int = Field(default=1, ge=1)  # processing threads (decode + embed)
    # receipt first: a film is processed once no data arrived for this long (0: at once), after
    # waiting at most processing_max_wait_s (docs/dicom.md)
    processing_quiet_s: float = Field(default=0.05, ge=0)
    processing_max_wait_s: float = Field(default=2.0, ge=0)
    # limits checked from the header at receipt and again before decoding
    max_image_side: int = Field(default=16384, ge=64)
    max_decoded_bytes: int = Field(default=128 * MIB, ge=MIB)
    max_dataset_bytes: int = Field(default=160 * MIB, ge=MIB)
    max_clock_skew_s: float = Field(default=3600.0, ge=0)  # acquisition times ahead of us
    # the decoder process of each processing thread, and poison quarantine
    decoder_memory_bytes: int = Field(default=3 * 1024 * MIB, ge=0)  # RLIMIT_AS headroom; 0: none
    decoder_timeout_s: float = Field(default=120.0, gt=0)
    decoder_max_jobs: int = Field(default=200, ge=1)
    max_attempts: int = Field(default=3, ge=1)  # failed/crashed attempts before quarantine/
    rescan_interval_s: float = Field(default=60.0, gt=0)  # pending/ scanned (released films)
    metrics_port: int = Field(default=0, ge=0, le=65535)  # `dicom-listen` only; 0: no endpoint
    # selection of the films to score (upper-case values; an empty list means any)
    modalities: list[str] = ["CR", "DX"]
    body_parts: list[str] = ["CHEST", "THORAX"]
    views: list[str] = ["AP", "PA"]
    required_image_type_values: list[str] = ["PRIMARY"]
    required_keywords: list[str] = []  # e.g. ["PORTABLE", "MOBILE"] in descriptions/station

    def listener_fields(self) -> dict[str, Any]:
        """The ``dicom_listener.config.ListenerConfig`` fields this section sets.

        The caller adds ``spool_dir`` (default ``<data_dir>/spool``), ``timezone`` and
        ``default_patient_system`` from the root settings.
        """
        return {
            "ae_title": self.ae_title,
            "bind": self.bind,
            "port": self.port,
            "allowed_calling_aets": tuple(self.allowed_calling_aets),
            "require_called_aet": self.require_called_aet,
            "max_associations": self.max_associations,
            "max_associations_per_peer": self.max_associations_per_peer,
            "max_pdu": self.max_pdu,
            "acse_timeout_s": self.acse_timeout_s,
            "network_timeout_s": self.network_timeout_s,
            "dimse_timeout_s": self.dimse_timeout_s,
            "tls_cert": self.tls_cert,
            "tls_key": self.tls_key,
            "tls_ca": self.tls_ca,
            "max_spool_bytes": self.max_spool_bytes,
            "min_free_bytes": self.min_free_bytes,
            "keep_done_files": self.keep_done_files,
            "issuer_systems": dict(self.issuer_systems),
            "workers": self.workers,
            "processing_quiet_s": self.processing_quiet_s,
            "processing_max_wait_s": self.processing_max_wait_s,
            "max_image_side": self.max_image_side,
            "max_decoded_bytes": self.max_decoded_bytes,
            "max_dataset_bytes": self.max_dataset_bytes,
            "max_clock_skew_s": self.max_clock_skew_s,
            "decoder_memory_bytes": self.decoder_memory_bytes,
            "decoder_timeout_s": self.decoder_timeout_s,
            "decoder_max_jobs": self.decoder_max_jobs,
            "max_attempts": self.max_attempts,
            "rescan_interval_s": self.rescan_interval_s,
            "selection": {
                "modalities": self.modalities,
                "body_parts": self.body_parts,
                "views": self.views,
                "required_image_type_values": self.required_image_type_values,
                "required_keywords": self.required_keywords,
            },
        }
