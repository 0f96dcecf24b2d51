"""Receipt checks from the header alone: sizes, pixel module consistency, identity, UIDs."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom_listener import FilmRejectedError, ReceiptError
from dicom_listener.convert import inspect_received, read_film
from dicom_listener.convert_read import meta_end
from dicom_listener.statuses import CANNOT_DECODE, DATASET_MISMATCH, TOO_LARGE
from tests.dicom_listener.films import LIMITS, make_film
from tests.dicom_listener.hostile import deflate_bomb, rle_bomb

CR = "1.2.840.10008.5.1.4.1.1.1"


def refused(data: bytes, requested: str | None = None) -> ReceiptError:
    with pytest.raises(ReceiptError) as caught:
        inspect_received(data, CR, LIMITS, requested_uid=requested)
    return caught.value


def edited(tmp_path: Path, **attributes: object) -> bytes:
    path = make_film(tmp_path / "f.dcm", bits=16, size=64)
    ds = dcmread(path)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.save_as(path)
    return path.read_bytes()


def test_rle_film_claiming_65535_squared_is_too_large_at_receipt_and_before_decoding(
    tmp_path: Path,
) -> None:
    bomb = rle_bomb(tmp_path / "rle.dcm")
    assert bomb.stat().st_size < 20_000  # the 64 x 64 data
    error = refused(bomb.read_bytes())
    assert error.status == TOO_LARGE
    assert "65535x65535" in str(error)
    with pytest.raises(FilmRejectedError, match="65535x65535"):
        read_film(bomb, ZoneInfo("UTC"), LIMITS)  # already in the spool: refused again


def test_deflate_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    data = deflate_bomb(tmp_path / "bomb.dcm").read_bytes()  # 800 MiB of pixels inflated
    assert len(data) < 2_000_000
    tracemalloc.start()
    try:
        error = refused(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.status == TOO_LARGE
    assert "20480x20480" in str(error)
    assert peak < 16 * 2**20  # the header only, never the pixels


def test_a_deflate_stream_inflating_beyond_the_data_set_limit_is_refused(tmp_path: Path) -> None:
    from dicom_listener.convert_read import inflate_bounded

    data = deflate_bomb(tmp_path / "bomb.dcm").read_bytes()
    with pytest.raises(ReceiptError) as caught:
        inflate_bounded(data[meta_end(data) :], 10 * 2**20)
    assert caught.value.status == TOO_LARGE


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"BitsAllocated": 8, "BitsStored": 8, "HighBit": 7}, "wrong Bits Allocated"),
        ({"BitsAllocated": 1, "BitsStored": 1, "HighBit": 0}, "Bits Allocated 1"),
        ({"HighBit": 40}, "High Bit 40"),
        ({"BitsStored": 20, "HighBit": 19}, "Bits Stored 20"),
        ({"Rows": 65535, "Columns": 65535}, "65535x65535"),
        ({"Columns": 128}, "truncated"),
        ({"SamplesPerPixel": 2}, "implausible image"),
        ({"NumberOfFrames": 0}, "0 frames"),
        ({"NumberOfFrames": 30000}, "30000 frames"),
    ],
)
def test_inconsistent_pixel_attributes_are_refused(
    tmp_path: Path, attributes: dict[str, object], message: str
) -> None:
    error = refused(edited(tmp_path, **attributes))
    assert message in str(error)
    assert error.status in (DATASET_MISMATCH, TOO_LARGE, CANNOT_DECODE)


@pytest.mark.parametrize(
    ("patient_id", "message"),
    [
        (["PHIMRN904", "PHIMRN904B\n"], "2 values"),
        ("M" * 5042, "longer than 64"),
        ("MRN\x00904", "control characters"),
        ("MRN904\n", "control characters"),
    ],
)
def test_an_unusable_patient_id_is_refused(
    tmp_path: Path, patient_id: object, message: str
) -> None:
    error = refused(edited(tmp_path, PatientID=patient_id))
    assert error.status == DATASET_MISMATCH
    assert message in str(error)
    assert "PatientID" in str(error)


def test_an_issuer_universal_id_that_is_no_oid_is_refused(tmp_path: Path) -> None:
    item = Dataset()
    item.UniversalEntityID = "not-an-oid"
    item.UniversalEntityIDType = "ISO"
    error = refused(edited(tmp_path, IssuerOfPatientIDQualifiersSequence=Sequence([item])))
    assert error.status == DATASET_MISMATCH


def test_the_request_must_announce_the_instance_it_carries(tmp_path: Path) -> None:
    data = edited(tmp_path)
    uid = str(dcmread(tmp_path / "f.dcm").SOPInstanceUID)
    assert inspect_received(data, CR, LIMITS, requested_uid=uid).sop_instance_uid == uid
    error = refused(data, requested="1.2.3.4.5")
    assert error.status == DATASET_MISMATCH
    assert "Affected SOP Instance UID" in str(error)


def test_random_bytes_after_a_valid_file_meta_cannot_be_understood(tmp_path: Path) -> None:
    data = edited(tmp_path)
    for seed in range(5):
        garbage = data[: meta_end(data)] + random.Random(seed).randbytes(3000)
        assert refused(garbage).status == CANNOT_DECODE


def test_bytes_that_are_no_dicom_file_cannot_be_understood() -> None:
    assert refused(b"\x00" * 50).status == CANNOT_DECODE
    assert refused(b"GET / HTTP/1.1\r\n" * 20).status == CANNOT_DECODE


def test_an_invalid_study_instance_uid_is_refused(tmp_path: Path) -> None:
    error = refused(edited(tmp_path, StudyInstanceUID="1.2.x." + "9" * 80))
    assert error.status == DATASET_MISMATCH
    assert "Study Instance UID" in str(error)
