"""A small, transparent RiskModel for app tests (the real one is tested in tests/model)."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np

from model.calibration import CardThresholds
from model.schemas import Driver, FilmEmbedding, PatientWindow, RiskLevel, RiskPrediction

FILM_LOGIT = 1.0


class FakeRiskModel:
    """Logistic in the latest FiO2 and respiratory rate; a film in the window adds +1 logit."""

    model_id = "fake-gated"
    model_version = "0.0.1"
    film_size = 64
    lookback_h = 48
    film_max_age_h = 72.0
    thresholds = CardThresholds(info=0.1, warning=0.3, critical=0.6, basis="fake")

    def __init__(self) -> None:
        self.calls = 0
        self.windows: list[PatientWindow] = []  # every window scored, in order

    def _level(self, p: float) -> RiskLevel:
        return self.thresholds.level(p)

    def predict(self, window: PatientWindow) -> RiskPrediction:
        self.calls += 1
        self.windows.append(window)
        latest: dict[str, float] = {}
        for m in sorted(window.measurements, key=lambda m: m.time):
            latest[m.variable] = m.value
        fio2, rr = latest.get("fio2", 21.0), latest.get("resp_rate", 16.0)
        ehr_logit = -4.0 + 0.06 * (fio2 - 21.0) + 0.1 * (rr - 16.0)
        films = [
            f
            for f in window.films
            if window.as_of - timedelta(hours=self.film_max_age_h) <= f.acquired_at <= window.as_of
        ]
        film = max(films, key=lambda f: f.acquired_at) if films else None
        p_ehr = 1 / (1 + math.exp(-ehr_logit))
        p = 1 / (1 + math.exp(-(ehr_logit + (FILM_LOGIT if film else 0.0))))
        drivers = (
            Driver(variable="fio2", contribution=0.6 * (p_ehr - 0.02),
                   description=f"FiO2 up to {fio2:.0f}% over 6 h"),
            Driver(variable="resp_rate", contribution=0.4 * (p_ehr - 0.02),
                   description=f"RR {rr:.0f}/min"),
        )  # fmt: skip
        return RiskPrediction(
            patient_key=window.patient_key,
            as_of=window.as_of,
            probability=p,
            level=self._level(p),
            model_id=self.model_id,
            model_version=self.model_version,
            image_weight=0.6 if film else 0.0,
            film_age_h=(window.as_of - film.acquired_at).total_seconds() / 3600 if film else None,
            film_sop_instance_uid=film.sop_instance_uid if film else None,
            probability_without_film=p_ehr if film else None,
            drivers=drivers,
            basis_ids=tuple(m.source_id for m in window.measurements[-5:] if m.source_id),
        )

    def embed_film(self, pixels: np.ndarray) -> tuple[float, ...]:
        array = np.asarray(pixels, dtype=np.float32)
        return (float(array.mean()), float(array.std()), float(array.max()))

    def film_embedding(self, pixels: np.ndarray) -> FilmEmbedding:
        return FilmEmbedding(
            values=self.embed_film(pixels),
            embedding_model=f"{self.model_id}:{self.model_version}",
        )
