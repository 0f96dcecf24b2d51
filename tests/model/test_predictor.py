"""Predictor: PatientWindow -> RiskPrediction, film rules, the no-film identity, drivers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from model import ModelError
from model.applicability.film import film_appearance
from model.cohort import read_cohort
from model.features.films import load_films
from model.predictor import Predictor, bundled_checkpoint_path
from model.schemas import (
    ChestFilm,
    FilmNotUsedReason,
    Measurement,
    PatientKey,
    PatientWindow,
    RiskLevel,
    StaticInfo,
)

KEY = PatientKey(system="urn:oid:2.16.840.1.113883.4.1.999.1", value="TEST-1")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _measurements() -> tuple[Measurement, ...]:
    out = []
    for i in range(12):
        t = NOW - timedelta(hours=11 - i)
        for var, unit, value in (
            ("fio2", "%", 30 + 3 * i),
            ("resp_rate", "/min", 18 + i),
            ("spo2", "%", 96 - 0.3 * i),
        ):
            out.append(
                Measurement(
                    patient_key=KEY,
                    variable=var,
                    value=value,
                    unit=unit,
                    time=t,
                    source_id=f"Observation/{var}-{i}",
                )
            )
    out.append(
        Measurement(
            patient_key=KEY,
            variable="heart_rate",
            value=999.0,
            unit="/min",
            time=NOW,
            source_id="Observation/artifact",
        )
    )
    out.append(
        Measurement(
            patient_key=KEY,
            variable="heart_rate",
            value=80.0,
            unit="/min",
            time=NOW + timedelta(hours=1),
            source_id="Observation/future",
        )
    )
    return tuple(out)


@pytest.fixture(scope="module")
def used_pixels(tiny_cohort: Path, tiny_checkpoint: Path) -> np.ndarray:
    """A film of the training cohort that the model's applicability guard accepts."""
    p = Predictor.load(tiny_checkpoint)
    for pixels in load_films(read_cohort(tiny_cohort), p.film_size).data:
        probe = _window((_film(pixels, 1, "1.2.3.0"),))
        if p.predict(probe).film_not_used is None:
            return np.asarray(pixels)
    raise AssertionError("the guard refuses every training film")


def _film(pixels: np.ndarray, hours_ago: float, uid: str) -> ChestFilm:
    return ChestFilm(
        patient_key=KEY,
        acquired_at=NOW - timedelta(hours=hours_ago),
        sop_instance_uid=uid,
        pixels=pixels,
    )


@pytest.fixture
def predictor(tiny_checkpoint: Path) -> Predictor:
    return Predictor.load(tiny_checkpoint)


def _window(films: tuple[ChestFilm, ...] = ()) -> PatientWindow:
    return PatientWindow(
        patient_key=KEY,
        as_of=NOW,
        measurements=_measurements(),
        films=films,
        static=StaticInfo(age_years=67, sex="female"),
    )


def test_reads_its_settings_from_the_checkpoint(predictor: Predictor) -> None:
    assert predictor.film_size == 32
    assert predictor.lookback_h == 24
    assert predictor.embedding_id == f"{predictor.model_id}:{predictor.model_version}"


def test_prediction_without_film_is_the_ehr_path(predictor: Predictor) -> None:
    r = predictor.predict(_window())
    assert 0.0 <= r.probability <= 1.0
    assert r.image_weight == 0.0
    assert r.film_age_h is None
    assert r.film_sop_instance_uid is None
    assert r.probability_without_film == r.probability
    assert r.level == predictor.thresholds.level(r.probability)
    assert "Observation/future" not in r.basis_ids
    assert "Observation/artifact" not in r.basis_ids
    assert "Observation/fio2-11" in r.basis_ids


def test_prediction_without_drivers_scores_the_patient(predictor: Predictor) -> None:
    """explain=False skips the Shapley coalitions; the one row scored is the patient's, not the
    reference patient's."""
    full = predictor.predict(_window())
    fast = predictor.predict(_window(), explain=False)
    assert fast.probability == pytest.approx(full.probability, abs=1e-6)
    assert fast.reference_probability is None
    assert fast.drivers == ()


def test_film_rules_latest_eligible_film_only(
    predictor: Predictor, used_pixels: np.ndarray
) -> None:
    recent, old, future = (
        _film(used_pixels, 5, "1.2.3.1"),
        _film(used_pixels, 80, "1.2.3.2"),
        _film(used_pixels, -1, "1.2.3.3"),
    )
    r = predictor.predict(_window((old, recent, future)))
    assert r.film_sop_instance_uid == "1.2.3.1"
    assert r.film_age_h == pytest.approx(5.0)
    assert 0.0 < r.image_weight < 1.0
    assert r.basis_ids[-1] == "1.2.3.1"
    assert r.probability_without_film == predictor.predict(_window()).probability
    only_bad = predictor.predict(_window((old, future)))
    assert only_bad.image_weight == 0.0
    assert only_bad.film_sop_instance_uid is None
    assert only_bad.film_not_used is None  # no film in the window at all


def test_cached_embedding_gives_the_same_prediction(
    predictor: Predictor, used_pixels: np.ndarray
) -> None:
    film = _film(used_pixels, 3, "1.2.3.9")
    assert film.pixels is not None
    cached = film.model_copy(
        update={
            "pixels": None,
            "embedding": predictor.embed_film(film.pixels),
            "embedding_model": predictor.embedding_id,
            "appearance": film_appearance(film.pixels, predictor.film_size),
        }
    )
    a, b = predictor.predict(_window((film,))), predictor.predict(_window((cached,)))
    assert a.film_not_used is None
    assert b.film_not_used is None
    assert a.probability == pytest.approx(b.probability, abs=1e-6)
    foreign = cached.model_copy(update={"embedding_model": "other-model:1"})
    refused = predictor.predict(_window((foreign,)))
    assert refused.image_weight == 0.0
    assert refused.film_not_used is not None
    assert refused.film_not_used.reason is FilmNotUsedReason.OTHER_ENCODER
    unchecked = cached.model_copy(update={"appearance": None})
    refused = predictor.predict(_window((unchecked,)))
    assert refused.film_not_used is not None
    assert refused.film_not_used.reason is FilmNotUsedReason.NOT_CHECKED
    assert refused.probability == predictor.predict(_window()).probability


def test_drivers_are_groups_in_clinical_words(predictor: Predictor) -> None:
    r = predictor.predict(_window())
    by = {d.variable: d.description for d in r.drivers}
    assert set(by) == {"oxygenation", "respiratory_rate"}  # heart rate: only an artifact
    assert by["oxygenation"].startswith("Oxygenation: ")
    assert "FiO2 up to 63% over 6 h" in by["oxygenation"]
    assert "SpO2" in by["oxygenation"]
    assert by["respiratory_rate"].startswith("Respiratory rate: RR up to 29/min")
    assert r.reference_probability is not None
    total = sum(d.contribution for d in r.drivers)
    assert total == pytest.approx(r.probability - r.reference_probability, abs=1e-6)


def test_raw_film_pixels_are_preprocessed(predictor: Predictor) -> None:
    raw = np.random.default_rng(3).random((300, 240)) * 4095
    assert len(predictor.embed_film(raw)) == len(predictor.embed_film(raw[None].astype(np.float32)))


def test_missing_checkpoint_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        Predictor.load(tmp_path / "none.pt")


def test_bundled_default_model_loads_and_predicts() -> None:
    assert bundled_checkpoint_path().exists()
    p = Predictor.load()
    r = p.predict(PatientWindow(patient_key=KEY, as_of=NOW, measurements=_measurements()))
    assert r.level in set(RiskLevel)
    assert p.card.synthetic
