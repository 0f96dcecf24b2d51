"""convert: receipt checks, dates in the configured zone, display pixels, identity facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pydicom import dcmread

from dicom_listener import FilmRejectedError, ReceiptError
from dicom_listener.convert import inspect_received, read_film
from dicom_listener.statuses import CANNOT_DECODE, DATASET_MISMATCH
from tests.dicom_listener.films import LIMITS, make_film, real_film

CR = "1.2.840.10008.5.1.4.1.1.1"
PARIS = ZoneInfo("Europe/Paris")


def test_inspect_received_accepts_a_complete_instance(tmp_path: Path) -> None:
    film = make_film(tmp_path / "f.dcm")
    received = inspect_received(film.read_bytes(), CR, LIMITS)
    assert received.sop_instance_uid == dcmread(film).SOPInstanceUID
    assert received.transfer_syntax_uid == "1.2.840.10008.1.2.1"


@pytest.mark.parametrize("cut", [10, 300, 5000])
def test_inspect_received_refuses_truncated_data(tmp_path: Path, cut: int) -> None:
    data = make_film(tmp_path / "f.dcm").read_bytes()
    with pytest.raises(ReceiptError) as caught:
        inspect_received(data[: len(data) - cut], CR, LIMITS)
    assert caught.value.status == CANNOT_DECODE


def test_inspect_received_refuses_truncated_jpeg2000() -> None:
    data = real_film("RG1_J2KR.dcm").read_bytes()
    with pytest.raises(ReceiptError) as caught:
        inspect_received(data[: len(data) - 1000], CR, LIMITS)
    assert caught.value.status == CANNOT_DECODE


def test_inspect_received_refuses_other_sop_class(tmp_path: Path) -> None:
    data = make_film(tmp_path / "f.dcm").read_bytes()
    with pytest.raises(ReceiptError) as caught:
        inspect_received(data, "1.2.840.10008.5.1.4.1.1.1.1", LIMITS)  # DX context, CR data
    assert caught.value.status == DATASET_MISMATCH


def test_local_acquisition_time_uses_the_configured_zone(tmp_path: Path) -> None:
    film = read_film(
        make_film(tmp_path / "f.dcm", acquired=datetime(2026, 7, 1, 6, 30)), PARIS, LIMITS
    )
    assert film.facts.acquired_at == datetime(2026, 7, 1, 4, 30, tzinfo=UTC)  # CEST = UTC+2


def test_timezone_offset_from_utc_wins_over_the_configured_zone(tmp_path: Path) -> None:
    path = make_film(tmp_path / "f.dcm", acquired=datetime(2026, 1, 5, 23, 50), tz_offset="-0500")
    film = read_film(path, PARIS, LIMITS)
    assert film.facts.acquired_at == datetime(2026, 1, 6, 4, 50, tzinfo=UTC)


def test_acquisition_datetime_attribute_is_preferred(tmp_path: Path) -> None:
    path = make_film(tmp_path / "f.dcm")
    ds = dcmread(path)
    ds.AcquisitionDateTime = "20260314083000.250000+0100"
    ds.save_as(path)
    acquired = read_film(path, PARIS, LIMITS).facts.acquired_at
    assert acquired == datetime(2026, 3, 14, 7, 30, 0, 250000, tzinfo=UTC)


def test_missing_dates_give_no_acquisition_time(tmp_path: Path) -> None:
    assert (
        read_film(make_film(tmp_path / "f.dcm", acquired=None), PARIS, LIMITS).facts.acquired_at
        is None
    )


def test_real_film_facts() -> None:
    facts = read_film(real_film("RG1_UNCR.dcm"), PARIS, LIMITS).facts
    assert (facts.modality, facts.body_part, facts.view_position) == ("CR", "CHEST", "PA")
    assert facts.image_type == ("DERIVED", "PRIMARY")
    assert facts.identity is not None
    assert facts.identity.patient_id == "9RG1"
    assert "THORAVISION" in facts.descriptions


def test_monochrome1_and_monochrome2_give_the_same_display(tmp_path: Path) -> None:
    mono2 = read_film(make_film(tmp_path / "2.dcm"), PARIS, LIMITS).display_image()
    mono1 = read_film(
        make_film(tmp_path / "1.dcm", photometric="MONOCHROME1"), PARIS, LIMITS
    ).display_image()
    assert mono2.dtype == np.float32
    assert mono2.shape == (128, 128)
    assert mono2.min() >= 0.0
    assert mono2.max() <= 1.0
    np.testing.assert_allclose(mono1, mono2, atol=2e-3)
    # lungs darker than the spine, as on a viewer
    assert mono2[50:78, 35:48].mean() < mono2[50:78, 62:66].mean()


def test_window_is_applied(tmp_path: Path) -> None:
    narrow = read_film(make_film(tmp_path / "n.dcm", window=(2000.0, 400.0)), PARIS, LIMITS)
    image = narrow.display_image()
    # a 400-wide window saturates most pixels to black or white
    assert np.mean((image < 0.01) | (image > 0.99)) > 0.5


def test_rescale_slope_is_applied_before_the_window(tmp_path: Path) -> None:
    path = make_film(tmp_path / "r.dcm", window=None)
    ds = dcmread(path)
    ds.RescaleSlope, ds.RescaleIntercept = 2.0, -100.0
    ds.WindowCenter, ds.WindowWidth = 2 * 2048.0 - 100.0, 2 * 4096.0
    ds.save_as(path)
    plain = read_film(make_film(tmp_path / "p.dcm"), PARIS, LIMITS).display_image()
    np.testing.assert_allclose(read_film(path, PARIS, LIMITS).display_image(), plain, atol=2e-3)


def test_colour_images_are_rejected(tmp_path: Path) -> None:
    path = make_film(tmp_path / "c.dcm")
    ds = dcmread(path)
    ds.PhotometricInterpretation = "RGB"
    ds.save_as(path)
    with pytest.raises(FilmRejectedError, match="not greyscale"):
        read_film(path, PARIS, LIMITS).display_image()


def test_unreadable_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "junk.dcm"
    path.write_bytes(b"not a dicom file at all")
    with pytest.raises(FilmRejectedError, match="unreadable"):
        read_film(path, PARIS, LIMITS)


def test_linear_window_matches_pydicom_on_the_real_film() -> None:
    from pydicom.pixels.processing import apply_voi_lut

    ds = dcmread(real_film("RG1_UNCR.dcm"))
    ours = read_film(real_film("RG1_UNCR.dcm"), PARIS, LIMITS).display_image()
    reference = apply_voi_lut(ds.pixel_array, ds, index=0) / (2 ** int(ds.BitsStored) - 1)
    np.testing.assert_allclose(ours, 1.0 - reference, atol=1e-3)  # MONOCHROME1: inverted


def test_voi_lut_sequence_is_applied(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset

    path = make_film(tmp_path / "lut.dcm", window=None)
    ds = dcmread(path)
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 12]
    lut = [min(4095, 2 * v) for v in range(4096)]  # doubles, saturating at half range
    item.add_new(0x00283006, "US", lut)  # LUT Data
    ds.VOILUTSequence = [item]
    ds.save_as(path)
    image = read_film(path, PARIS, LIMITS).display_image()
    plain = read_film(make_film(tmp_path / "p.dcm", window=None), PARIS, LIMITS).display_image()
    assert image.max() == pytest.approx(1.0)
    assert np.mean(image > 0.999) > np.mean(plain > 0.999) + 0.1  # the LUT saturated the brights
