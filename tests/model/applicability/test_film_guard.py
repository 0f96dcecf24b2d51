"""The film guard's parts: block statistics, Gaussian scores, calibration, and the checkpoint."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch

from model.applicability.film import (
    APPEARANCE_VERSION,
    FALSE_REJECTION_RATE,
    FilmGuard,
    appearance_features,
    block_means,
    film_appearance,
)
from model.applicability.gaussian import GaussianScore
from model.checkpoint import load_checkpoint, save_checkpoint
from model.cohort import read_cohort
from model.features.films import load_films
from model.predictor import Predictor
from model.schemas import (
    ChestFilm,
    FilmAppearance,
    FilmNotUsedReason,
    PatientKey,
    PatientWindow,
    RiskPrediction,
)
from tests.model.test_predictor import NOW, _measurements

KEY = PatientKey(system="urn:test", value="GUARD-1")


@pytest.mark.parametrize("shape", [(32, 32), (64, 64), (70, 45)])
def test_block_means_match_adaptive_average_pooling(shape: tuple[int, int]) -> None:
    images = np.random.default_rng(0).random((3, 1, *shape)).astype(np.float32)
    expected = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(images), 8)[:, 0]
    assert np.allclose(block_means(images, 8), expected.numpy(), atol=1e-6)


def test_appearance_is_layout_and_intensity() -> None:
    films = np.random.default_rng(1).random((2, 1, 64, 64)).astype(np.float32)
    features = appearance_features(films)
    assert features.shape == (2, 64 + 5)
    assert np.allclose(features[:, :64].mean(axis=1), 0.0, atol=1e-6)  # layout standardised
    assert np.all(np.diff(features[:, 64:], axis=1) >= 0)  # increasing quantiles


def test_gaussian_score_scale_and_round_trip() -> None:
    rng = np.random.default_rng(2)
    train, calib = rng.normal(size=(400, 6)), rng.normal(size=(200, 6))
    score = GaussianScore.fit(train, calib)
    assert np.median(score.distance(calib)) == pytest.approx(1.0)
    again = GaussianScore.from_dict(score.to_dict())
    assert np.allclose(again.distance(calib[:5]), score.distance(calib[:5]))


def _groups(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(size=(n, 8)), rng.normal(size=(n, 69)) * 0.1


def test_threshold_gives_the_stated_false_rejection_rate_and_catches_one_odd_group() -> None:
    rng = np.random.default_rng(3)
    (e_tr, a_tr), (e_va, a_va), (e_te, a_te) = (_groups(rng, n) for n in (2000, 1000, 4000))
    guard = FilmGuard.fit(e_tr, e_va, a_tr, a_va)
    assert guard.calibrated_on == "validation films"
    rejected = np.mean([not guard.assess(e, a).used for e, a in zip(e_te, a_te, strict=True)])
    assert rejected == pytest.approx(FALSE_REJECTION_RATE, abs=0.006)
    # typical in the embedding and in intensity, unlike the training films in layout only
    odd = a_te[0].copy()
    odd[:64] += 1.0
    verdict = guard.assess(e_te[0] * 0, odd)
    assert not verdict.used
    assert verdict.outside == ("layout",)
    assert FilmGuard.from_dict(guard.to_dict()).assess(e_te[0] * 0, odd) == verdict


def test_few_validation_films_calibrate_on_training_and_validation() -> None:
    rng = np.random.default_rng(4)
    (e_tr, a_tr), (e_va, a_va) = _groups(rng, 60), _groups(rng, 10)
    assert FilmGuard.fit(e_tr, e_va, a_tr, a_va).calibrated_on == "training and validation films"


def test_training_stores_the_guard_and_it_uses_the_training_films(
    tiny_checkpoint: Path, tiny_cohort: Path
) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    assert ckpt.applicability is not None
    guard = ckpt.applicability.film
    assert guard is not None
    assert set(guard.groups) == {"embedding", "layout", "intensity"}
    assert guard.fitted_on["train_films"] > 0
    p = Predictor.load(tiny_checkpoint)
    films = load_films(read_cohort(tiny_cohort), p.film_size).data
    used = [_predict(p, pixels).film_not_used is None for pixels in films]
    assert np.mean(used) >= 0.9  # the calibration films themselves: at most a few outside
    noise = np.random.default_rng(0).random((1, p.film_size, p.film_size)).astype(np.float32)
    refused = _predict(p, noise)
    assert refused.film_not_used is not None
    assert refused.film_not_used.reason is FilmNotUsedReason.UNLIKE_TRAINING_FILMS
    assert refused.film_not_used.score is not None
    assert refused.film_not_used.score > 1.0
    assert refused.image_weight == 0.0
    assert refused.probability == refused.probability_without_film


def test_a_checkpoint_without_the_guard_uses_no_film(
    tiny_checkpoint: Path, tiny_cohort: Path, tmp_path: Path
) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    ckpt.applicability = None
    save_checkpoint(ckpt, tmp_path / "old.pt")
    p = Predictor.load(tmp_path / "old.pt")
    pixels = load_films(read_cohort(tiny_cohort), p.film_size).data[0]
    r = _predict(p, pixels)
    assert r.film_not_used is not None
    assert r.film_not_used.reason is FilmNotUsedReason.NOT_CHECKED
    assert r.image_weight == 0.0
    assert r.ehr_flags == ()


def _predict(p: Predictor, pixels: np.ndarray) -> RiskPrediction:
    film = ChestFilm(
        patient_key=KEY,
        acquired_at=NOW - timedelta(hours=2),
        sop_instance_uid="1.2.826.0.1.9",
        pixels=np.asarray(pixels, np.float32),
    )
    window = PatientWindow(patient_key=KEY, as_of=NOW, measurements=_measurements(), films=(film,))
    return p.predict(window)


def test_malformed_stored_statistics_are_not_checked_never_an_error(
    tiny_checkpoint: Path, tiny_cohort: Path
) -> None:
    p = Predictor.load(tiny_checkpoint)
    pixels = load_films(read_cohort(tiny_cohort), p.film_size).data[0]
    stored = ChestFilm(
        patient_key=KEY,
        acquired_at=NOW - timedelta(hours=2),
        sop_instance_uid="1.2.826.0.1.10",
        embedding=p.embed_film(pixels),
        embedding_model=p.embedding_id,
        appearance=FilmAppearance(version=APPEARANCE_VERSION, values=(0.5,) * 12),
    )
    window = PatientWindow(
        patient_key=KEY, as_of=NOW, measurements=_measurements(), films=(stored,)
    )
    refused = p.predict(window).film_not_used
    assert refused is not None
    assert refused.reason is FilmNotUsedReason.NOT_CHECKED
    nan = stored.model_copy(
        update={
            "embedding": (float("nan"),) * len(stored.embedding or ()),
            "appearance": film_appearance(pixels, p.film_size),
        }
    )
    result = p.predict(window.model_copy(update={"films": (nan,)}))
    assert result.film_not_used is not None
    assert result.film_not_used.reason is FilmNotUsedReason.UNLIKE_TRAINING_FILMS
    assert result.image_weight == 0.0
