"""Checks of a parsed instance header, shared by receipt (a DIMSE status) and processing.

At receipt a failed check refuses the C-STORE with the status of its :class:`ReceiptError`; in
the decoder process the same checks run again before any pixel is decoded (a spooled file may
predate them), and a failure becomes the reason the film is not scored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from dicom_listener import ReceiptError
from dicom_listener.convert_read import UNDEFINED_LENGTH, InstanceHeader
from dicom_listener.statuses import CANNOT_DECODE, DATASET_MISMATCH, TOO_LARGE

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")  # leading zeros are not allowed, but seen in the field
_CONTROL = re.compile(r"[\x00-\x1a\x1c-\x1f\x7f]")  # ESC (0x1b) is allowed: ISO 2022 escapes
_LO_MAX = 64
_REQUIRED = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel", "PhotometricInterpretation")


@dataclass(frozen=True)
class SizeLimits:
    """What an instance may claim before anything is decoded (ListenerConfig fields)."""

    max_side: int  # Rows and Columns
    max_decoded_bytes: int  # rows x columns x samples x bits allocated / 8 x frames
    max_dataset_bytes: int  # the data set as received, or as inflated from deflate


def valid_uid(value: str) -> bool:
    """A UID as DICOM writes them: digits and dots, at most 64 characters."""
    return 0 < len(value) <= 64 and bool(_UID.match(value))


def _integer(ds: Dataset, keyword: str, default: int | None = None) -> int:
    try:
        value = ds.get(keyword, default)
    except (TypeError, ValueError) as exc:  # an IS/DS value pydicom cannot convert
        raise ReceiptError(DATASET_MISMATCH, f"{keyword} is not a number") from exc
    if isinstance(value, MultiValue) or value is None or value == "":
        if default is not None and value in ("", None):
            return default
        raise ReceiptError(DATASET_MISMATCH, f"{keyword} is missing or multi-valued")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ReceiptError(DATASET_MISMATCH, f"{keyword} {value!r} is not a number") from exc


def decoded_size(ds: Dataset) -> int:
    """Bytes the pixel data decodes to, from the header alone."""
    frames = _integer(ds, "NumberOfFrames", 1)
    rows, columns = _integer(ds, "Rows"), _integer(ds, "Columns")
    samples, bits = _integer(ds, "SamplesPerPixel"), _integer(ds, "BitsAllocated")
    return (rows * columns * samples * bits * frames + 7) // 8


def check_pixel_module(header: InstanceHeader, limits: SizeLimits) -> None:
    """Required Image Pixel attributes, consistent with each other and within the size limits.

    ``DATASET_MISMATCH``: missing or inconsistent (Bits Allocated 8 or 16, Bits Stored within
    it, High Bit = Bits Stored - 1, native pixel data longer than the header says);
    ``TOO_LARGE``: a side, or the decoded size, beyond ``limits``; ``CANNOT_DECODE``: no pixel
    data, or pixel data shorter than the header says (truncated).
    """
    size = check_image_header(header.dataset, limits)
    check_pixel_data(header, size)


def check_image_header(ds: Dataset, limits: SizeLimits) -> int:
    """The Image Pixel attributes alone (see :func:`check_pixel_module`); the decoded size."""
    missing = [name for name in _REQUIRED if name not in ds]
    if missing:
        raise ReceiptError(DATASET_MISMATCH, f"missing {', '.join(missing)}")
    rows, columns = _integer(ds, "Rows"), _integer(ds, "Columns")
    allocated, samples = _integer(ds, "BitsAllocated"), _integer(ds, "SamplesPerPixel")
    stored = _integer(ds, "BitsStored", allocated)
    high = _integer(ds, "HighBit", stored - 1)
    frames = _integer(ds, "NumberOfFrames", 1)
    if allocated not in (8, 16):
        raise ReceiptError(DATASET_MISMATCH, f"Bits Allocated {allocated} (CR/DX: 8 or 16)")
    if not 1 <= stored <= allocated:
        raise ReceiptError(
            DATASET_MISMATCH, f"Bits Stored {stored} with Bits Allocated {allocated}"
        )
    if high != stored - 1:
        raise ReceiptError(DATASET_MISMATCH, f"High Bit {high} is not Bits Stored {stored} - 1")
    if samples not in (1, 3) or frames < 1 or rows < 1 or columns < 1:
        raise ReceiptError(
            DATASET_MISMATCH,
            f"implausible image: {rows}x{columns}, {samples} samples, {frames} frames",
        )
    if _integer(ds, "PixelRepresentation", 0) not in (0, 1):
        raise ReceiptError(DATASET_MISMATCH, "Pixel Representation is neither 0 nor 1")
    if rows > limits.max_side or columns > limits.max_side:
        raise ReceiptError(
            TOO_LARGE, f"image of {rows}x{columns} pixels (limit {limits.max_side} per side)"
        )
    size = decoded_size(ds)
    if size > limits.max_decoded_bytes:
        raise ReceiptError(
            TOO_LARGE,
            f"decoded pixel data of {size} bytes ({rows}x{columns}x{samples}, {allocated} bits, "
            f"{frames} frames; limit {limits.max_decoded_bytes})",
        )
    return size


def check_pixel_data(header: InstanceHeader, size: int) -> None:
    """The Pixel Data element holds what a header of ``size`` decoded bytes announces."""
    if header.pixel_length is None:
        raise ReceiptError(CANNOT_DECODE, "no pixel data (truncated?)")
    if header.pixel_length == UNDEFINED_LENGTH:
        if header.transfer_syntax.is_transfer_syntax and not header.transfer_syntax.is_encapsulated:
            raise ReceiptError(DATASET_MISMATCH, "undefined-length pixel data in a native syntax")
        if not header.pixel_available:
            raise ReceiptError(CANNOT_DECODE, "encapsulated pixel data truncated (no delimiter)")
        return
    if header.transfer_syntax.is_encapsulated:
        raise ReceiptError(DATASET_MISMATCH, "encapsulated syntax with defined-length pixel data")
    available = min(header.pixel_length, header.pixel_available)
    if available < size:
        raise ReceiptError(
            CANNOT_DECODE, "pixel data shorter than the image it declares (truncated)"
        )
    if header.pixel_length > size + 1:  # one padding byte keeps odd lengths even
        raise ReceiptError(
            DATASET_MISMATCH,
            f"pixel data of {header.pixel_length} bytes for {size} declared "
            "(wrong Bits Allocated?)",
        )


def lo_text(ds: Dataset, keyword: str) -> str:
    """A single LO value: at most 64 characters, no control characters, one value."""
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        if len(value) > 1:
            raise ReceiptError(DATASET_MISMATCH, f"{keyword} has {len(value)} values (VM 1)")
        value = value[0] if value else ""
    text = str(value)
    if len(text) > _LO_MAX:
        raise ReceiptError(DATASET_MISMATCH, f"{keyword} longer than {_LO_MAX} characters")
    if _CONTROL.search(text):
        raise ReceiptError(DATASET_MISMATCH, f"{keyword} contains control characters")
    return text.strip()


def check_identity(ds: Dataset) -> None:
    """Patient ID and its issuer are usable as an identifier (never a patient key otherwise)."""
    lo_text(ds, "PatientID")
    lo_text(ds, "IssuerOfPatientID")
    qualifiers = ds.get("IssuerOfPatientIDQualifiersSequence")
    if qualifiers:
        universal = str(qualifiers[0].get("UniversalEntityID", "") or "")
        kind = str(qualifiers[0].get("UniversalEntityIDType", "") or "").strip().upper()
        if len(universal) > _LO_MAX or _CONTROL.search(universal):
            raise ReceiptError(DATASET_MISMATCH, "Universal Entity ID of the issuer is invalid")
        if kind == "ISO" and universal.strip() and not valid_uid(universal.strip()):
            raise ReceiptError(DATASET_MISMATCH, "ISO Universal Entity ID of the issuer is no OID")


def check_uids(ds: Dataset, *, requested_uid: str | None = None) -> tuple[str, str]:
    """(SOP Instance UID, SOP Class UID), valid, and the instance the request announced."""
    sop_instance = str(ds.get("SOPInstanceUID", "") or "").strip()
    sop_class = str(ds.get("SOPClassUID", "") or "").strip()
    if not sop_instance and not sop_class:
        raise ReceiptError(CANNOT_DECODE, "no SOP Class UID and no SOP Instance UID: not an image")
    if not valid_uid(sop_instance):
        raise ReceiptError(DATASET_MISMATCH, "missing or invalid SOP Instance UID")
    if requested_uid is not None and sop_instance != requested_uid.strip():
        raise ReceiptError(
            DATASET_MISMATCH,
            "request's Affected SOP Instance UID differs from the data set's",
        )
    study = str(ds.get("StudyInstanceUID", "") or "").strip()
    if study and not valid_uid(study):
        raise ReceiptError(DATASET_MISMATCH, "invalid Study Instance UID")
    return sop_instance, sop_class
