"""The only modules (this one and ``convert_*``) that touch pydicom datasets.

- :func:`inspect_received`: the checks of a just-received encoded instance, on the association
  thread, from its header only (no pixel decoding, deflate inflated within a bound).
- :func:`read_film`: the same checks again, selection facts, and display-ready pixels on demand
  (called in the decoder process).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.valuerep import DA, DT, TM

from dicom_listener import FilmRejectedError, ReceiptError
from dicom_listener.convert_checks import (
    SizeLimits,
    check_identity,
    check_image_header,
    check_pixel_module,
    check_uids,
    lo_text,
)
from dicom_listener.convert_pixels import as_values, display_pixels
from dicom_listener.convert_read import InstanceHeader, read_full, read_header
from dicom_listener.facts import FilmFacts, PatientIdentity, ReceivedInstance
from dicom_listener.statuses import CANNOT_DECODE, DATASET_MISMATCH, TOO_LARGE

_DATE_PAIRS = (
    ("AcquisitionDate", "AcquisitionTime"),
    ("ContentDate", "ContentTime"),
    ("SeriesDate", "SeriesTime"),
    ("StudyDate", "StudyTime"),
)


def _checked_header(data: bytes, limits: SizeLimits, requested_uid: str | None) -> InstanceHeader:
    if len(data) > limits.max_dataset_bytes:
        raise ReceiptError(
            TOO_LARGE, f"data set of {len(data)} bytes (limit {limits.max_dataset_bytes})"
        )

    def check(ds: Dataset) -> None:  # before any pixel byte is copied or inflated
        check_uids(ds, requested_uid=requested_uid)
        check_identity(ds)
        check_image_header(ds, limits)

    header = read_header(data, max_inflated=limits.max_dataset_bytes, check=check)
    check_pixel_module(header, limits)
    return header


def inspect_received(
    data: bytes, context_sop_class: str, limits: SizeLimits, *, requested_uid: str | None = None
) -> ReceivedInstance:
    """Check a received instance (file meta + data set bytes) before it is acknowledged.

    Raises :class:`ReceiptError` with the status to answer (see ``statuses`` and
    docs/dicom.md): the bytes are no data set or are truncated, the SOP class or instance does
    not match the context or the request, pixel attributes are missing or inconsistent, the
    header claims more pixels than the limits allow, or Patient ID is unusable.
    """
    header = _checked_header(data, limits, requested_uid)
    sop_instance, sop_class = check_uids(header.dataset)
    if sop_class != context_sop_class:
        raise ReceiptError(DATASET_MISMATCH, "SOP Class UID does not match the context")
    return ReceivedInstance(sop_instance, sop_class, str(header.transfer_syntax))


@dataclass(frozen=True)
class DicomFilm:
    """A spooled film: its facts, and a function that decodes its display-ready pixels."""

    facts: FilmFacts
    display_image: Callable[[], np.ndarray]


def read_film(path: Path, zone: tzinfo, limits: SizeLimits) -> DicomFilm:
    """Read and re-check a spooled instance; pixels are decoded by ``display_image()`` only."""
    try:
        size = path.stat().st_size
        if size > limits.max_dataset_bytes:
            raise FilmRejectedError(f"file of {size} bytes (limit {limits.max_dataset_bytes})")
        header = _checked_header(path.read_bytes(), limits, None)
    except ReceiptError as exc:
        prefix = "unreadable DICOM file: " if exc.status == CANNOT_DECODE else ""
        raise FilmRejectedError(f"{prefix}{exc}") from exc
    except OSError as exc:
        raise FilmRejectedError(f"unreadable DICOM file: {exc}") from exc
    ds = header.dataset
    facts = FilmFacts(
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")).strip(),
        sop_class_uid=str(ds.get("SOPClassUID", "")).strip(),
        study_instance_uid=str(ds.get("StudyInstanceUID", "") or "").strip(),
        modality=_text(ds, "Modality"),
        body_part=_text(ds, "BodyPartExamined"),
        view_position=_text(ds, "ViewPosition"),
        image_type=tuple(str(v).upper() for v in as_values(ds.get("ImageType"))),
        descriptions=tuple(
            t
            for t in (
                _text(ds, name)
                for name in ("StudyDescription", "SeriesDescription", "ProtocolName", "StationName")
            )
            if t
        ),
        identity=_identity(ds),
        acquired_at=acquisition_time(ds, zone),
    )

    def decode() -> np.ndarray:
        try:
            full = read_full(header)
        except ReceiptError as exc:
            raise FilmRejectedError(str(exc)) from exc
        return display_pixels(full)

    return DicomFilm(facts=facts, display_image=decode)


def _text(ds: Dataset, keyword: str) -> str:
    return str(ds.get(keyword, "") or "").strip().upper()


def _identity(ds: Dataset) -> PatientIdentity | None:
    patient_id = lo_text(ds, "PatientID")  # checked already: one value, no control characters
    if not patient_id:
        return None
    universal, universal_type = "", ""
    qualifiers = ds.get("IssuerOfPatientIDQualifiersSequence")
    if qualifiers:
        item = qualifiers[0]
        universal = str(item.get("UniversalEntityID", "") or "")
        universal_type = str(item.get("UniversalEntityIDType", "") or "")
    return PatientIdentity(
        patient_id=patient_id,
        issuer=lo_text(ds, "IssuerOfPatientID"),
        issuer_universal_id=universal,
        issuer_universal_id_type=universal_type,
    )


def _offset(ds: Dataset) -> tzinfo | None:
    raw = str(ds.get("TimezoneOffsetFromUTC", "") or "").strip()
    match = re.fullmatch(r"([+-])(\d{2})(\d{2})", raw)
    if not match:
        return None
    sign = -1 if match.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def acquisition_time(ds: Dataset, zone: tzinfo) -> datetime | None:
    """When the film was taken, as an aware datetime.

    Acquisition DateTime, else the first of acquisition/content/series/study date (+ time) that
    parses. Local values use Timezone Offset From UTC when present, else the configured zone. An
    implausible value is returned as it is: the caller refuses it (``facts.implausible_time``).
    """
    local_zone = _offset(ds) or zone
    raw_dt = str(ds.get("AcquisitionDateTime", "") or "").strip()
    if raw_dt:
        try:
            value = DT(raw_dt)
            return value if value.tzinfo else value.replace(tzinfo=local_zone)
        except (ValueError, OverflowError):
            pass
    for date_kw, time_kw in _DATE_PAIRS:
        raw_date = str(ds.get(date_kw, "") or "").strip()
        if not raw_date:
            continue
        try:
            day: date = DA(raw_date)
            raw_time = str(ds.get(time_kw, "") or "").strip()
            clock: time = TM(raw_time) if raw_time else time(0, 0)
        except (ValueError, OverflowError):
            continue
        return datetime.combine(day, clock.replace(tzinfo=None), tzinfo=local_zone)
    return None


__all__ = [
    "DicomFilm",
    "SizeLimits",
    "acquisition_time",
    "display_pixels",
    "inspect_received",
    "read_film",
]
