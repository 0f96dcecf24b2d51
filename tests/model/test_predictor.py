"""Predictor: PatientWindow -> RiskPrediction, film rules, the no-film identity, drivers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from model import ModelError
from model.ports import RiskModel
from model.predictor import Predictor, bundled_checkpoint_path
from model.schemas import ChestFilm, Measurement, PatientKey, PatientWindow, RiskLevel, StaticInfo

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


def _film(p: Predictor, hours_ago: float, uid: str, bright: float = 0.3) -> ChestFilm:
    image = np.random.default_rng(0).random((80, 70)) * 0.2 + bright
    pixels = np.zeros((1, p.film_size, p.film_size), np.float32)
    pixels[0] = np.resize(image, (p.film_size, p.film_size))
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


def test_implements_the_risk_model_port(predictor: Predictor) -> None:
    assert isinstance(predictor, RiskModel)
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


def test_film_rules_latest_eligible_film_only(predictor: Predictor) -> None:
    recent, old, future = (
        _film(predictor, 5, "1.2.3.1"),
        _film(predictor, 80, "1.2.3.2"),
        _film(predictor, -1, "1.2.3.3"),
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


def test_cached_embedding_gives_the_same_prediction(predictor: Predictor) -> None:
    film = _film(predictor, 3, "1.2.3.9")
    emb = predictor.embed_film(film.pixels)  # type: ignore[arg-type]
    cached = film.model_copy(
        update={"pixels": None, "embedding": emb, "embedding_model": predictor.embedding_id}
    )
    a, b = predictor.predict(_window((film,))), predictor.predict(_window((cached,)))
    assert a.probability == pytest.approx(b.probability, abs=1e-6)
    foreign = cached.model_copy(update={"embedding_model": "other-model:1"})
    assert predictor.predict(_window((foreign,))).image_weight == 0.0  # unusable: ignored


def test_drivers_in_clinical_words(predictor: Predictor) -> None:
    r = predictor.predict(_window())
    assert 0 < len(r.drivers) <= 5
    names = {d.variable for d in r.drivers}
    assert names <= {"fio2", "resp_rate", "spo2"}
    by = {d.variable: d.description for d in r.drivers}
    if "fio2" in by:
        assert by["fio2"].startswith("FiO2 up to 63% over")
    if "resp_rate" in by:
        assert by["resp_rate"].startswith("RR up to 29/min")
    assert all(-1 <= d.contribution <= 1 for d in r.drivers)


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
