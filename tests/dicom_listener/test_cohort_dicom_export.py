"""DICOM export of a synthetic cohort: valid CR/DX files that our own listener and DCMTK accept."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import UID

from dicom_listener.cohort_dicom_export import (
    CR_STORAGE,
    DX_PRESENTATION_STORAGE,
    DicomExportError,
    choose_modality,
    export_cohort_dicom,
    film_dataset,
    read_film_pixels,
)
from dicom_listener.config import SelectionRules
from dicom_listener.convert import read_film
from dicom_listener.facts import IdentityRules, patient_key_for
from dicom_listener.selection import rejection_reason
from model.cohort import Cohort, read_cohort
from model.synth import DEFAULT_MRN_SYSTEM, SynthConfig, simulate
from model.synth.render import to_display
from tests.dicom_listener.conftest import require_binary
from tests.dicom_listener.films import LIMITS


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cohort, list[Path]]:
    root = tmp_path_factory.mktemp("dicom-export")
    simulate(SynthConfig(patients=6, seed=4, film_size=64), root / "cohort")
    count = export_cohort_dicom(root / "cohort", root / "dicom", seed=4)
    files = sorted((root / "dicom").rglob("*.dcm"))
    assert count == len(files) > 0
    return read_cohort(root / "cohort"), files


def test_files_are_valid_portable_ap_chest_cr_or_dx(exported: tuple[Cohort, list[Path]]) -> None:
    cohort, files = exported
    films = {f.sop_instance_uid: f for f in cohort.films}
    modalities = set()
    for path in files:
        ds = dcmread(path)
        film = films[ds.SOPInstanceUID]
        modalities.add(ds.Modality)
        assert ds.SOPClassUID == (CR_STORAGE if ds.Modality == "CR" else DX_PRESENTATION_STORAGE)
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        for uid in (ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID):
            assert UID(uid).is_valid
        assert (ds.StudyInstanceUID, ds.SeriesInstanceUID) == (
            film.study_instance_uid,
            film.series_instance_uid,
        )
        assert ds.ViewPosition == "AP"
        assert ds.BodyPartExamined == "CHEST"
        assert f"{ds.PatientID}" == film.key.split("|", 1)[1]
        assert ds.IssuerOfPatientID == DEFAULT_MRN_SYSTEM
        assert ds.PhotometricInterpretation == film.photometric
        assert 12 <= ds.BitsStored <= 16
        assert ds.BitsStored == film.bits_stored
        assert np.array_equal(ds.pixel_array, read_film_pixels(cohort.root, film))
    assert modalities <= {"CR", "DX"}


def test_our_listener_reads_the_patient_time_and_pixels(
    exported: tuple[Cohort, list[Path]],
) -> None:
    cohort, files = exported
    films = {f.sop_instance_uid: f for f in cohort.films}
    rules = IdentityRules(default_system="urn:other", issuer_systems={})
    for path in files[:6]:
        received = read_film(path, UTC, LIMITS)
        film = films[received.facts.sop_instance_uid]
        assert rejection_reason(received.facts, SelectionRules()) is None
        assert str(patient_key_for(received.facts.identity, rules)) == film.key
        assert received.facts.acquired_at == film.time
        stored = read_film_pixels(cohort.root, film)
        expected = to_display(stored, film.photometric, film.bits_stored)
        shown = received.display_image()
        # the listener applies the VOI window; orientation (higher = denser) must agree
        assert np.corrcoef(shown.ravel(), expected.ravel())[0, 1] > 0.9


def test_export_is_deterministic(exported: tuple[Cohort, list[Path]], tmp_path: Path) -> None:
    cohort, files = exported
    export_cohort_dicom(cohort.root, tmp_path, seed=4)
    again = sorted(tmp_path.rglob("*.dcm"))
    assert [p.name for p in again] == [p.name for p in files]
    for a, b in zip(files, again, strict=True):
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


def test_modality_choice_is_stable_and_mixed() -> None:
    uids = [f"2.25.{n}" for n in range(200)]
    chosen = [choose_modality(u) for u in uids]
    assert chosen == [choose_modality(u) for u in uids]
    assert 0.4 < chosen.count("CR") / len(chosen) < 0.8


def test_missing_uids_are_generated_deterministically(exported: tuple[Cohort, list[Path]]) -> None:
    cohort, _ = exported
    film = cohort.films[0]
    bare = type(film)(film.key, film.time, film.path, "", "AP", film.photometric, film.bits_stored)
    pixels = read_film_pixels(cohort.root, film)
    first = film_dataset(pixels, bare, seed=1, modality="DX")
    second = film_dataset(pixels, bare, seed=1, modality="DX")
    other = film_dataset(pixels, bare, seed=2, modality="DX")
    assert first.SOPInstanceUID == second.SOPInstanceUID != other.SOPInstanceUID
    assert UID(first.StudyInstanceUID).is_valid


def test_rejects_values_beyond_bits_stored(exported: tuple[Cohort, list[Path]]) -> None:
    cohort, _ = exported
    film = cohort.films[0]
    too_big = np.full((8, 8), 2**film.bits_stored, dtype=np.uint32)
    if film.bits_stored == 16:
        too_big = np.full((8, 8, 2), 1, dtype=np.uint16)  # not 2-D
    with pytest.raises(DicomExportError):
        film_dataset(too_big, film)


@pytest.mark.dcmtk
def test_dcmtk_accepts_the_files(exported: tuple[Cohort, list[Path]]) -> None:
    _, files = exported
    dcmftest = require_binary("dcmftest")
    dcmdump = require_binary("dcmdump")
    result = subprocess.run(
        [dcmftest, *map(str, files)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("yes:") == len(files)
    for path in files[:3]:
        dump = subprocess.run(
            [dcmdump, "-E", str(path)], capture_output=True, text=True, check=False
        )
        assert dump.returncode == 0, dump.stderr
        assert "(0018,5101) CS [AP]" in dump.stdout
