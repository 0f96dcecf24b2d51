"""Cohort films -> DICOM CR / DX files (the simulator's DICOM export; synthetic data).

Each PNG in a cohort directory holds a film's *stored* pixel values; this module wraps them in a
complete Part 10 file: patient (PatientID = the MRN, IssuerOfPatientID = the MRN system), study,
series, equipment, image pixel, CR or DX modules, portable AP chest, acquisition date/time.
UIDs come from the cohort (so FHIR ImagingStudy and DICOM agree) or, when a cohort has none,
from ``pydicom.uid.generate_uid`` with entropy from the seed and the film (deterministic).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    generate_uid,
)

from dicom_listener import DicomListenerError
from model.cohort import CohortFilm, CohortPatient, read_cohort
from model.schemas import PatientKey

log = logging.getLogger(__name__)

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_PRESENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
_SEX = {"male": "M", "female": "F"}


class DicomExportError(DicomListenerError):
    """A cohort film cannot be exported as DICOM (unreadable PNG, bad identifiers)."""


def _uid(given: str, seed: int, *parts: str) -> str:
    return given or str(generate_uid(entropy_srcs=[str(seed), *parts]))


def choose_modality(sop_instance_uid: str) -> str:
    """CR for about 60% of films, DX for the rest, stable per film."""
    return "CR" if hashlib.sha256(sop_instance_uid.encode()).digest()[0] < 154 else "DX"


def _patient_module(ds: Dataset, key: PatientKey, patient: CohortPatient | None) -> None:
    if len(key.system) > 64:
        raise DicomExportError("MRN system longer than 64 characters cannot be an issuer")
    ds.PatientName = "Synthetic^Patient"
    ds.PatientID = key.value
    ds.IssuerOfPatientID = key.system
    if key.system.startswith("urn:oid:"):
        item = Dataset()
        item.UniversalEntityID = key.system.removeprefix("urn:oid:")
        item.UniversalEntityIDType = "ISO"
        ds.IssuerOfPatientIDQualifiersSequence = Sequence([item])
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    if patient is not None:
        if patient.age is not None:
            born = patient.stay_start - timedelta(days=round(patient.age * 365.25))
            ds.PatientBirthDate = f"{born.year:04d}0101"
            ds.PatientAge = f"{int(patient.age):03d}Y"
        ds.PatientSex = _SEX.get(patient.sex or "", "O")


def _times(ds: Dataset, when: datetime) -> None:
    utc = when.astimezone(UTC)
    day, clock = utc.strftime("%Y%m%d"), utc.strftime("%H%M%S")
    ds.TimezoneOffsetFromUTC = "+0000"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = day
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = clock
    ds.AcquisitionDateTime = utc.strftime("%Y%m%d%H%M%S.%f") + "+0000"


def _pixel_module(ds: Dataset, pixels: np.ndarray, photometric: str, bits: int) -> None:
    if pixels.ndim != 2:
        raise DicomExportError(f"expected a 2-D film, got shape {pixels.shape}")
    if photometric not in ("MONOCHROME1", "MONOCHROME2") or not 8 < bits <= 16:
        raise DicomExportError(f"unsupported film encoding {photometric}/{bits} bits")
    stored = pixels.astype(np.uint16)
    if int(stored.max(initial=0)) >= 2**bits:
        raise DicomExportError(f"pixel values exceed {bits} bits stored")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = (int(n) for n in stored.shape)
    ds.BitsAllocated = 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    low, high = (float(v) for v in np.percentile(stored[::4, ::4], [1.0, 99.0]))
    ds.WindowCenter = f"{(low + high) / 2.0:.1f}"
    ds.WindowWidth = f"{max(high - low, 1.0):.1f}"
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.PixelData = stored.tobytes()


def film_dataset(
    pixels: np.ndarray,
    film: CohortFilm,
    patient: CohortPatient | None = None,
    *,
    modality: str = "CR",
    seed: int = 0,
) -> Dataset:
    """One film as a DICOM dataset (with file meta) ready for ``save_as``."""
    if modality not in ("CR", "DX"):
        raise DicomExportError(f"modality must be CR or DX, not {modality}")
    try:
        key = PatientKey.parse(film.key)
    except ValueError as exc:
        raise DicomExportError(str(exc)) from exc
    sop_class = CR_STORAGE if modality == "CR" else DX_PRESENTATION_STORAGE
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = _uid(film.sop_instance_uid, seed, film.key, film.time.isoformat(), "sop")
    ds.StudyInstanceUID = _uid(film.study_instance_uid, seed, ds.SOPInstanceUID, "study")
    ds.SeriesInstanceUID = _uid(film.series_instance_uid, seed, ds.SOPInstanceUID, "series")
    ds.SpecificCharacterSet = "ISO_IR 100"
    _patient_module(ds, key, patient)
    _times(ds, film.time)
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.StudyDescription = "XR CHEST PORTABLE AP"
    ds.SeriesDescription = "CHEST AP PORTABLE"
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Manufacturer = "VentFusion synthetic simulator"
    ds.StationName = "PORTABLE1"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = film.view or "AP"
    ds.PatientOrientation = ["R", "F"] if modality == "CR" else ["L", "F"]
    ds.ImageType = ["ORIGINAL", "PRIMARY"] if modality == "CR" else ["ORIGINAL", "PRIMARY", ""]
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    if modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PixelIntensityRelationship = "LIN"
        ds.PixelIntensityRelationshipSign = 1
        ds.RescaleType = "US"
        ds.DetectorType = "SCINTILLATOR"
        ds.ImageLaterality = "U"
        ds.PatientOrientation = ["L", "F"]
    else:
        ds.KVP = "90"
    _pixel_module(ds, pixels, film.photometric, film.bits_stored)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(PYDICOM_IMPLEMENTATION_UID)
    ds.file_meta = meta
    return ds


def read_film_pixels(cohort_root: Path, film: CohortFilm) -> np.ndarray:
    """The stored pixel values of a cohort film (its 16-bit PNG)."""
    try:
        with Image.open(cohort_root / film.path) as img:
            return np.asarray(img).astype(np.uint16)
    except (OSError, ValueError) as exc:
        raise DicomExportError(f"cannot read film {film.sop_instance_uid}: {exc}") from exc


def export_cohort_dicom(
    cohort_dir: Path,
    out_dir: Path,
    *,
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write every PNG film of a cohort as ``out_dir/<patient n>/<SOPInstanceUID>.dcm``."""
    cohort = read_cohort(cohort_dir)
    patients = {p.key: p for p in cohort.patients}
    folders = {p.key: f"{i + 1:06d}" for i, p in enumerate(cohort.patients)}
    films = [f for f in cohort.films if f.path.lower().endswith(".png")]
    for n, film in enumerate(films, start=1):
        pixels = read_film_pixels(cohort_dir, film)
        ds = film_dataset(
            pixels,
            film,
            patients.get(film.key),
            modality=choose_modality(film.sop_instance_uid),
            seed=seed,
        )
        target = out_dir / folders.get(film.key, "unknown") / f"{ds.SOPInstanceUID}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
        if on_progress is not None:
            on_progress(n, len(films))
    log.info("exported %d synthetic films as DICOM to %s", len(films), out_dir)
    return len(films)
