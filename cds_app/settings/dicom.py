"""DICOM listener settings section (``VENTFUSION_DICOM__*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class DicomSettings(BaseModel):
    enabled: bool = True
    ae_title: str = Field(default="VENTFUSION", min_length=1, max_length=16)
    bind: str = "127.0.0.1"
    port: int = Field(default=11112, ge=1, le=65535)
    allowed_calling_aets: list[str] = []  # empty: any calling AE title
    max_associations: int = Field(default=10, ge=1)
    max_pdu: int = Field(default=131072, ge=0)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None  # require client certificates signed by this CA
    spool_dir: Path | None = None  # default: <data_dir>/spool
