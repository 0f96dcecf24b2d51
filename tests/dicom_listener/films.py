"""Small generated radiographs as real DICOM files, and the real RG1/RG3 films of pydicom-data."""

from __future__ import annotations

import importlib.resources
from datetime import datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    generate_uid,
)

from dicom_listener.convert_checks import SizeLimits

PATIENT_ID = "MRN-48213"
#: the listener's default size limits
LIMITS = SizeLimits(max_side=16384, max_decoded_bytes=128 * 2**20, max_dataset_bytes=160 * 2**20)


def real_film(name: str) -> Path:
    """A film of pydicom-data (RG1_UNCR.dcm: CR chest PA; RG3_UNCR.dcm: CR extremity)."""
    return Path(str(importlib.resources.files("data_store") / "data" / name))


def chest_pixels(size: int, bits: int, *, seed: int = 0) -> np.ndarray:
    """A chest-like radiograph: bright body, two dark lungs, a spine, some noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    image = 0.55 + 0.1 * rng.standard_normal((size, size))
    for cx in (0.32, 0.68):
        lung = ((x - cx) / 0.16) ** 2 + ((y - 0.5) / 0.3) ** 2 < 1
        image[lung] -= 0.35
    image[np.abs(x - 0.5) < 0.04] += 0.3
    image = np.clip(image, 0, 1)
    return (image * (2**bits - 1)).astype(np.uint16)


def make_film(
    path: Path,
    *,
    modality: str = "CR",
    body_part: str = "CHEST",
    view: str = "AP",
    photometric: str = "MONOCHROME2",
    size: int = 128,
    bits: int = 12,
    patient_id: str = PATIENT_ID,
    issuer: str | None = None,
    acquired: datetime | None = datetime(2026, 3, 14, 6, 30, 5),
    tz_offset: str | None = None,
    window: tuple[float, float] | None = (2048.0, 4096.0),
    sop_instance_uid: str | None = None,
    seed: int = 0,
    pixels: np.ndarray | None = None,
) -> Path:
    """Write a small CR (or DX) film in explicit VR little endian and return its path
    (``pixels``: stored MONOCHROME2 values, any rows x columns, instead of the generated
    ``size`` x ``size`` ones)."""
    sop_class = ComputedRadiographyImageStorage
    if modality == "DX":
        sop_class = DigitalXRayImageStorageForPresentation
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance_uid or generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    ds.PatientID = patient_id
    ds.PatientName = "Test^Ward"
    if issuer is not None:
        ds.IssuerOfPatientID = issuer
    ds.BodyPartExamined = body_part
    ds.ViewPosition = view
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.StationName = "PORTABLE1"
    if acquired is not None:
        ds.AcquisitionDate = acquired.strftime("%Y%m%d")
        ds.AcquisitionTime = acquired.strftime("%H%M%S")
    if tz_offset is not None:
        ds.TimezoneOffsetFromUTC = tz_offset
    dtype = np.uint8 if bits <= 8 else np.uint16
    pixels = chest_pixels(size, bits, seed=seed) if pixels is None else pixels
    if photometric == "MONOCHROME1":
        pixels = 2**bits - 1 - pixels
    pixels = pixels.astype(dtype)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if bits <= 8 else 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path
