"""The only module (with ``convert_*``) that touches pydicom datasets.

- :func:`inspect_received`: cheap structural checks of a just-received encoded instance, on the
  association thread (no pixel decoding).
- :func:`read_film`: selection facts of a spooled file, and its display-ready pixels on demand.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import cast

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut
from pydicom.valuerep import DA, DT, TM

from dicom_listener import FilmRejectedError, ReceiptError
from dicom_listener.facts import FilmFacts, PatientIdentity, ReceivedInstance
from dicom_listener.statuses import CANNOT_DECODE, DATASET_MISMATCH

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_REQUIRED = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel", "PhotometricInterpretation")
_DATE_PAIRS = (
    ("AcquisitionDate", "AcquisitionTime"),
    ("ContentDate", "ContentTime"),
    ("SeriesDate", "SeriesTime"),
    ("StudyDate", "StudyTime"),
)


def inspect_received(data: bytes, context_sop_class: str) -> ReceivedInstance:
    """Check a received instance (file meta + dataset bytes) before it is acknowledged.

    Raises :class:`ReceiptError` with ``0xA900`` when required attributes are missing or do not
    match the presentation context, and ``0xC210`` when the bytes cannot be parsed or the pixel
    data is truncated.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = dcmread(io.BytesIO(data))
        except (InvalidDicomError, EOFError, ValueError, KeyError, OSError) as exc:
            raise ReceiptError(CANNOT_DECODE, f"cannot parse the dataset: {exc}") from exc
    if any("End of file" in str(w.message) for w in caught):
        raise ReceiptError(CANNOT_DECODE, "dataset truncated (end of data inside an element)")
    sop_instance = str(ds.get("SOPInstanceUID", "")).strip()
    sop_class = str(ds.get("SOPClassUID", "")).strip()
    if not _UID.match(sop_instance) or len(sop_instance) > 64:
        raise ReceiptError(DATASET_MISMATCH, "missing or invalid SOP Instance UID")
    if sop_class != context_sop_class:
        raise ReceiptError(DATASET_MISMATCH, "SOP Class UID does not match the context")
    missing = [name for name in _REQUIRED if name not in ds]
    if missing:
        raise ReceiptError(DATASET_MISMATCH, f"missing {', '.join(missing)}")
    if "PixelData" not in ds:
        raise ReceiptError(CANNOT_DECODE, "no pixel data (truncated?)")
    syntax = ds.file_meta.TransferSyntaxUID
    if not syntax.is_encapsulated and len(ds.PixelData) < _native_size(ds):
        raise ReceiptError(CANNOT_DECODE, "pixel data shorter than Rows x Columns (truncated)")
    return ReceivedInstance(sop_instance, sop_class, str(syntax))


def _native_size(ds: Dataset) -> int:
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    pixels = int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel) * frames
    bits = int(ds.BitsAllocated)
    return (pixels * bits + 7) // 8


@dataclass(frozen=True)
class DicomFilm:
    """A spooled film: its facts, and a function that decodes its display-ready pixels."""

    facts: FilmFacts
    display_image: Callable[[], np.ndarray]


def read_film(path: Path, zone: tzinfo) -> DicomFilm:
    """Read a spooled instance; pixels are decoded only when ``display_image()`` is called."""
    try:
        ds = dcmread(path)
    except (InvalidDicomError, EOFError, ValueError, KeyError, OSError) as exc:
        raise FilmRejectedError(f"unreadable DICOM file: {exc}") from exc
    facts = FilmFacts(
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        sop_class_uid=str(ds.get("SOPClassUID", "")),
        study_instance_uid=str(ds.get("StudyInstanceUID", "")),
        modality=_text(ds, "Modality"),
        body_part=_text(ds, "BodyPartExamined"),
        view_position=_text(ds, "ViewPosition"),
        image_type=tuple(str(v).upper() for v in _values(ds.get("ImageType"))),
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
    return DicomFilm(facts=facts, display_image=lambda: display_pixels(ds))


def _values(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return list(cast(Iterable[object], value))
    return [value]


def _text(ds: Dataset, keyword: str) -> str:
    return str(ds.get(keyword, "") or "").strip().upper()


def _identity(ds: Dataset) -> PatientIdentity | None:
    patient_id = str(ds.get("PatientID", "") or "").strip()
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
        issuer=str(ds.get("IssuerOfPatientID", "") or ""),
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

    Acquisition DateTime, else the first of acquisition/content/series/study date (+ time). Local
    values use Timezone Offset From UTC when present, else the configured zone.
    """
    local_zone = _offset(ds) or zone
    raw_dt = str(ds.get("AcquisitionDateTime", "") or "").strip()
    if raw_dt:
        try:
            value = DT(raw_dt)
            return value if value.tzinfo else value.replace(tzinfo=local_zone)
        except ValueError:
            pass
    for date_kw, time_kw in _DATE_PAIRS:
        raw_date = str(ds.get(date_kw, "") or "").strip()
        if not raw_date:
            continue
        try:
            day: date = DA(raw_date)
            raw_time = str(ds.get(time_kw, "") or "").strip()
            clock: time = TM(raw_time) if raw_time else time(0, 0)
        except ValueError:
            continue
        return datetime.combine(day, clock.replace(tzinfo=None), tzinfo=local_zone)
    return None


def _first_number(value: object) -> float:
    values = _values(value)
    return float(cast(float, values[0]))


def linear_window(values: np.ndarray, ds: Dataset) -> np.ndarray | None:
    """The first Window Center/Width as a LINEAR (or LINEAR_EXACT) VOI to [0, 1] (PS3.3 C.11.2.1).

    None when the instance has a VOI LUT Sequence, a SIGMOID function or no usable window: the
    caller then uses pydicom's general implementation.
    """
    if "VOILUTSequence" in ds or "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    function = str(ds.get("VOILUTFunction", "") or "LINEAR").upper()
    try:
        center, width = _first_number(ds.WindowCenter), _first_number(ds.WindowWidth)
    except (TypeError, ValueError, IndexError):
        return None
    if function == "LINEAR" and width >= 1:
        scaled = (values - np.float32(center - 0.5)) / np.float32(max(width - 1, 1e-6)) + 0.5
    elif function == "LINEAR_EXACT" and width > 0:
        scaled = (values - np.float32(center)) / np.float32(width) + 0.5
    else:
        return None
    clipped: np.ndarray = np.clip(scaled, 0.0, 1.0).astype(np.float32, copy=False)
    return clipped


def display_pixels(ds: Dataset) -> np.ndarray:
    """Decode to a 2-D float32 image in [0, 1], higher = brighter.

    Applies the modality LUT (rescale), the VOI LUT or first window, and inverts MONOCHROME1 (or
    an INVERSE presentation LUT shape), as a radiologist's viewer would show the film. Without
    any VOI the full range of values is stretched to [0, 1].
    """
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise FilmRejectedError(f"photometric {photometric or '(none)'} is not greyscale")
    try:
        raw = ds.pixel_array
    except Exception as exc:  # decoders raise many types; all mean "cannot decode"
        raise FilmRejectedError(f"cannot decode pixel data: {type(exc).__name__}: {exc}") from exc
    frame = raw[0] if raw.ndim == 3 else raw
    modality = apply_modality_lut(frame, ds)
    values = np.asarray(modality, dtype=np.float32)
    invert = photometric == "MONOCHROME1" or str(ds.get("PresentationLUTShape", "")) == "INVERSE"
    windowed = linear_window(values, ds)
    if windowed is not None:
        if float(windowed.max()) <= float(windowed.min()):
            raise FilmRejectedError("blank image (no contrast in the window)")
        return 1.0 - windowed if invert else windowed
    if "VOILUTSequence" in ds or "WindowCenter" in ds:
        values = np.asarray(apply_voi_lut(modality, ds, index=0), dtype=np.float32)
    if invert:
        values = values.max() - values
    low, high = float(values.min()), float(values.max())
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        raise FilmRejectedError("blank image (no contrast)")
    return ((values - low) / (high - low)).astype(np.float32)


__all__ = [
    "DicomFilm",
    "acquisition_time",
    "display_pixels",
    "inspect_received",
    "linear_window",
    "read_film",
]
