"""The bundled model does not use real radiographs, and still uses the simulator's own films.

Real films: RG1 (a real CR chest PA film from pydicom-data, decoded the way the DICOM listener
decodes it), variants of it a PACS or an attacker could send (flipped, cropped to the lungs,
rotated, other contrast, inverted, downsampled, its grey levels matched to a simulator film, half
blended with one), and other real images of pydicom-data (an extremity CR, a CT slice, an MR).
Each must leave the risk exactly as without the film, with gate 0 and the reason.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from scipy import ndimage

from dicom_listener.convert import read_film
from model.cohort import read_cohort
from model.features.films import load_display_image
from model.predictor import Predictor
from model.schemas import (
    ChestFilm,
    FilmNotUsedReason,
    Measurement,
    PatientKey,
    PatientWindow,
    RiskPrediction,
    StaticInfo,
)
from model.synth import SynthConfig, simulate
from model.transforms import preprocess_film
from tests.dicom_listener.films import LIMITS
from tests.support.synthetic_films import simulator_display

KEY = PatientKey(system="urn:test", value="REAL-1")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
#: A full set of bedside vital signs (the simulator charts one on arrival; fewer variables than
#: any training window had is flagged by the EHR guard).
VITALS = {
    "normal": {"heart_rate": 82, "resp_rate": 16, "spo2": 97, "fio2": 21, "o2_flow": 0,
               "sbp": 122, "dbp": 74, "map": 90},
    "sick": {"heart_rate": 118, "resp_rate": 31, "spo2": 89, "fio2": 60, "o2_flow": 40,
             "sbp": 98, "dbp": 53, "map": 68},
}  # fmt: skip


@pytest.fixture(scope="module")
def bundled() -> Predictor:
    return Predictor.load()


@functools.cache
def _dicom(name: str) -> np.ndarray:
    path = Path(str(importlib.resources.files("data_store") / "data" / name))
    return read_film(path, ZoneInfo("UTC"), LIMITS).display_image()


def _match(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``image`` with the grey-level distribution of ``reference`` (rank matching)."""
    flat = image.ravel()
    out = np.empty_like(flat)
    ref = np.sort(reference.ravel())
    out[np.argsort(flat)] = ref[np.linspace(0, ref.size - 1, flat.size).astype(int)]
    return out.reshape(image.shape)


def _rg1() -> np.ndarray:
    return _dicom("RG1_UNCR.dcm")


REAL: dict[str, Callable[[], np.ndarray]] = {
    "RG1": _rg1,
    "RG1 flipped": lambda: _rg1()[:, ::-1],
    "RG1 lungs only": lambda: _rg1()[390:-390, 368:-368],
    "RG1 rotated 5 degrees": lambda: ndimage.rotate(_rg1(), 5, reshape=False, order=1),
    "RG1 gamma 2": lambda: _rg1() ** 2,
    "RG1 inverted": lambda: 1.0 - _rg1(),
    "RG1 at 256 px": lambda: ndimage.zoom(_rg1(), 256 / 1955, order=1),
    "RG1 blurred": lambda: ndimage.gaussian_filter(_rg1(), 8),
    "RG1, grey levels of a simulator film": lambda: _match(
        preprocess_film(_rg1(), 64)[0], preprocess_film(simulator_display(256), 64)[0]
    ),
    "RG1 half blended with a simulator film": lambda: (
        0.5 * preprocess_film(_rg1(), 64)[0] + 0.5 * preprocess_film(simulator_display(256), 64)[0]
    ),
    "RG3 (extremity CR)": lambda: _dicom("RG3_UNCR.dcm"),
    "CT slice": lambda: _dicom("693_UNCR.dcm"),
    "MR": lambda: _dicom("MR2_UNCR.dcm"),
}


def _window(state: str, image: np.ndarray | None) -> PatientWindow:
    measurements = [
        Measurement(patient_key=KEY, variable=v, value=float(x), unit="",
                    time=NOW - timedelta(hours=h), source_id=f"Observation/{v}-{h}")
        for h in range(12) for v, x in VITALS[state].items()
    ]  # fmt: skip
    films = ()
    if image is not None:
        films = (
            ChestFilm(
                patient_key=KEY,
                acquired_at=NOW - timedelta(hours=3),
                sop_instance_uid="1.2.826.0.1.3680043.10.1",
                pixels=np.asarray(image, np.float32),
            ),
        )
    return PatientWindow(
        patient_key=KEY,
        as_of=NOW,
        measurements=tuple(measurements),
        films=films,
        static=StaticInfo(age_years=61, sex="female"),
    )


CASES = [("RG1", "normal"), *((name, "sick") for name in sorted(REAL))]


@pytest.mark.parametrize(("name", "state"), CASES)
def test_a_real_radiograph_does_not_change_the_risk(
    bundled: Predictor, name: str, state: str
) -> None:
    without = bundled.predict(_window(state, None))
    with_film = bundled.predict(_window(state, REAL[name]().copy()))
    assert with_film.probability == without.probability
    assert with_film.image_weight == 0.0
    assert with_film.film_sop_instance_uid is None
    assert with_film.film_not_used is not None
    assert with_film.film_not_used.reason is FilmNotUsedReason.UNLIKE_TRAINING_FILMS
    assert "1.2.826.0.1.3680043.10.1" not in with_film.basis_ids


@pytest.fixture(scope="module", params=[128, 256, 512])
def simulator_films(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[np.ndarray]:
    """Films of patients the bundled model never saw (seed 11), rendered at several sizes: the
    films a prediction window can use (before ventilation, as the guard is calibrated on) of 16
    patients, so that one patient's unusual films cannot decide the rate."""
    size = int(request.param)
    root = tmp_path_factory.mktemp(f"synth{size}") / "cohort"
    simulate(SynthConfig(patients=16, seed=11, film_size=size, workers=1), root)
    cohort = read_cohort(root)
    vent = cohort.ventilation_start
    usable = [f for f in cohort.films if f.key not in vent or f.time < vent[f.key]]
    return [load_display_image(root, film) for film in usable]


def test_the_simulators_films_are_still_used(
    bundled: Predictor, simulator_films: list[np.ndarray]
) -> None:
    results: list[RiskPrediction] = [
        bundled.predict(_window("sick", image)) for image in simulator_films
    ]
    used = [r for r in results if r.film_not_used is None]
    assert len(used) >= 0.9 * len(results)
    assert all(r.image_weight > 0.0 and r.film_sop_instance_uid for r in used)
    without = bundled.predict(_window("sick", None)).probability
    assert any(abs(r.probability - without) > 0.01 for r in used)
