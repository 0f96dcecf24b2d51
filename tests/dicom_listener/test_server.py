"""The listener end to end with a pynetdicom SCU: statuses, spooling, processing, selection."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    DeflatedExplicitVRLittleEndian,
    DigitalXRayImageStorageForProcessing,
)

from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.server import RunningListener
from tests.dicom_listener.films import make_film, real_film
from tests.dicom_listener.scu import echo, store_files

from .conftest import PATIENT_SYSTEM


def test_echo_answers_success(listener: RunningListener) -> None:
    assert echo(listener.port) == 0x0000


def test_wrong_called_ae_title_is_refused(listener: RunningListener) -> None:
    assert echo(listener.port, called="SOMEONEELSE") is None


def test_real_chest_film_is_spooled_processed_and_embedded(
    listener: RunningListener, sink: DirectoryFilmSink
) -> None:
    path = real_film("RG1_UNCR.dcm")
    uid = str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)
    assert store_files(listener.port, [path]) == [0x0000]
    assert listener.wait_idle(60)
    assert sink.added_uids() == [uid]
    meta = json.loads((sink.films / f"{uid}.json").read_text())
    assert meta["patient_key"] == {"system": PATIENT_SYSTEM, "value": "9RG1"}
    assert meta["view"] == "PA"
    assert meta["embedding_model"] == "stats:1"
    assert len(meta["embedding"]) == 3
    # ContentDate/Time 1995-09-26 12:51:30 with TimezoneOffsetFromUTC -0400
    assert datetime.fromisoformat(meta["acquired_at"]) == datetime(
        1995, 9, 26, 16, 51, 30, tzinfo=ZoneInfo("UTC")
    )
    pixels = np.load(sink.films / f"{uid}.npy")
    assert pixels.shape == (1, 64, 64)
    assert pixels.dtype == np.float32
    # MONOCHROME1 inverted: the lungs (dark on a display) are darker than the mediastinum
    assert pixels[0, 28:36, 14:20].mean() < pixels[0, 28:36, 30:34].mean()
    assert (sink.films / f"{uid}.png").read_bytes().startswith(b"\x89PNG")
    assert (listener.spool.done / uid).exists()
    assert not listener.spool.pending_path(uid).exists()


def test_duplicate_instances_are_acknowledged_once_processed_once(
    listener: RunningListener, sink: DirectoryFilmSink, tmp_path: Path
) -> None:
    film = make_film(tmp_path / "a.dcm")
    assert store_files(listener.port, [film, film]) == [0x0000, 0x0000]
    assert listener.wait_idle(30)
    assert store_files(listener.port, [film]) == [0x0000]
    assert listener.wait_idle(30)
    uid = str(dcmread(film).SOPInstanceUID)
    assert sink.log_path.read_text().split("\n").count(f"added {uid}") == 1
    assert "duplicate" not in sink.log_path.read_text()


def test_deflated_dx_film_is_processed(
    listener: RunningListener, sink: DirectoryFilmSink, tmp_path: Path
) -> None:
    source = make_film(tmp_path / "dx.dcm", modality="DX", photometric="MONOCHROME1")
    ds = dcmread(source)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    deflated = tmp_path / "dx_deflated.dcm"
    ds.save_as(deflated, enforce_file_format=True)
    assert store_files(listener.port, [deflated]) == [0x0000]
    assert listener.wait_idle(30)
    assert sink.added_uids() == [str(ds.SOPInstanceUID)]


@pytest.mark.parametrize(
    ("kwargs", "reason_part"),
    [
        ({"view": "LL"}, "view position LL"),
        ({"body_part": "KNEE"}, "body part KNEE"),
        ({"acquired": None}, "no acquisition"),
        ({"issuer": "OTHER-HOSPITAL"}, "IssuerOfPatientID"),
    ],
)
def test_films_that_are_not_frontal_chest_films_are_recorded_not_scored(
    listener: RunningListener,
    sink: DirectoryFilmSink,
    tmp_path: Path,
    kwargs: dict[str, object],
    reason_part: str,
) -> None:
    film = make_film(tmp_path / "x.dcm", **kwargs)  # type: ignore[arg-type]
    uid = str(dcmread(film).SOPInstanceUID)
    assert store_files(listener.port, [film]) == [0x0000]
    assert listener.wait_idle(30)
    assert sink.added_uids() == []
    assert reason_part in sink.rejected_reasons()[uid]
    assert (listener.spool.rejected / f"{uid}.dcm").exists()


def test_real_extremity_film_is_not_scored(
    listener: RunningListener, sink: DirectoryFilmSink
) -> None:
    path = real_film("RG3_UNCR.dcm")
    uid = str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)
    assert store_files(listener.port, [path]) == [0x0000]
    assert listener.wait_idle(30)
    assert sink.added_uids() == []
    assert sink.rejected_reasons() == {uid: "body part EXTREMITY is not a chest"}


def test_truncated_file_gets_cannot_understand(
    listener: RunningListener, sink: DirectoryFilmSink, tmp_path: Path
) -> None:
    full = make_film(tmp_path / "full.dcm").read_bytes()
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(full[: len(full) - 5000])
    assert store_files(listener.port, [truncated]) == [0xC210]
    assert listener.wait_idle(10)
    assert list(listener.spool.pending.iterdir()) == []
    assert sink.added_uids() == []


def test_sop_class_not_matching_the_context_gets_0xa900(
    listener: RunningListener, tmp_path: Path
) -> None:
    film = make_film(tmp_path / "ct_inside.dcm")
    ds = dcmread(film)
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage, file meta still says CR
    ds.file_meta.MediaStorageSOPClassUID = ComputedRadiographyImageStorage
    ds.save_as(film)
    assert dcmread(film).file_meta.MediaStorageSOPClassUID == ComputedRadiographyImageStorage
    assert store_files(listener.port, [film]) == [0xA900]


def test_ct_sop_class_is_not_accepted(listener: RunningListener, tmp_path: Path) -> None:
    film = make_film(tmp_path / "ct.dcm")
    ds = dcmread(film)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.save_as(film, enforce_file_format=True)
    assert store_files(listener.port, [film]) == [None]  # presentation context rejected


def test_missing_pixel_attributes_get_0xa900(listener: RunningListener, tmp_path: Path) -> None:
    film = make_film(tmp_path / "norows.dcm")
    ds = dcmread(film)
    del ds.Rows
    ds.save_as(film, enforce_file_format=True)
    assert store_files(listener.port, [film]) == [0xA900]


def test_dx_for_processing_without_a_window_is_processed(
    listener: RunningListener, sink: DirectoryFilmSink, tmp_path: Path
) -> None:
    path = make_film(tmp_path / "proc.dcm", modality="DX", window=None, bits=14)
    ds = dcmread(path)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForProcessing
    ds.save_as(path, enforce_file_format=True)
    assert store_files(listener.port, [path]) == [0x0000]
    assert listener.wait_idle(30)
    assert sink.added_uids() == [str(ds.SOPInstanceUID)]
