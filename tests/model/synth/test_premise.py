"""The study's premise is built in: the oracle is a high ceiling, EHR-only is clearly below it,
and a film-derived feature adds information the EHR lacks (synthetic data)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model.cohort import Cohort
from model.synth import SynthSummary
from model.synth.course import simulate_course
from model.synth.render import to_display
from model.variables import VARIABLE_NAMES
from tests.model.synth.helpers import Windows, build_windows, impute, lung_opacity_index


@pytest.fixture(scope="module")
def windows(synth_cohort: tuple[Cohort, SynthSummary]) -> Windows:
    return build_windows(synth_cohort[0])


def _split(w: Windows) -> np.ndarray:
    """Patient-level split: even patients train, odd test."""
    return w.patient % 2 == 1


def _fit_auc(features: np.ndarray, w: Windows) -> float:
    test = _split(w)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    model.fit(features[~test], w.label[~test])
    return float(roc_auc_score(w.label[test], model.predict_proba(features[test])[:, 1]))


def _film_features(cohort: Cohort, w: Windows) -> np.ndarray:
    by_uid = {f.sop_instance_uid: f for f in cohort.films}
    index: dict[str, float] = {}
    for uid in set(w.film_uid) - {""}:
        film = by_uid[uid]
        with Image.open(cohort.root / film.path) as img:
            display = to_display(np.asarray(img), film.photometric, film.bits_stored)
        index[uid] = lung_opacity_index(display)
    value = np.asarray([index.get(u, 0.0) for u in w.film_uid])
    has = np.asarray([u != "" for u in w.film_uid], dtype=np.float64)
    return np.stack([value, has], axis=1)


def test_oracle_is_a_high_ceiling(windows: Windows) -> None:
    test = _split(windows)
    assert roc_auc_score(windows.label[test], windows.oracle[test]) > 0.9


def test_ehr_alone_is_clearly_below_the_oracle_and_the_film_adds_to_it(
    synth_cohort: tuple[Cohort, SynthSummary], windows: Windows
) -> None:
    cohort, _ = synth_cohort
    oracle = float(roc_auc_score(windows.label[_split(windows)], windows.oracle[_split(windows)]))
    ehr = impute(windows.latest)
    ehr_auc = _fit_auc(ehr, windows)
    fused_auc = _fit_auc(np.concatenate([ehr, _film_features(cohort, windows)], axis=1), windows)
    assert oracle - ehr_auc >= 0.1
    assert fused_auc - ehr_auc >= 0.06
    assert fused_auc < oracle


def test_film_pixels_track_the_latent_consolidation(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    cohort, _ = synth_cohort
    films = cohort.films[:300]
    index, truth = [], []
    for film in films:
        with Image.open(cohort.root / film.path) as img:
            index.append(
                lung_opacity_index(to_display(np.asarray(img), film.photometric, film.bits_stored))
            )
        truth.append(float(cohort.film_truth[film.sop_instance_uid]["consolidation"]))
    assert np.corrcoef(index, truth)[0, 1] > 0.8


def test_the_film_leads_the_ehr() -> None:
    leads = []
    for seed in range(300):
        course = simulate_course(np.random.default_rng(seed))
        if not course.has_injury or course.injury.max() < 0.5:
            continue
        film_sees = int(np.argmax(course.injury > 0.3))
        ehr_sees = int(np.argmax(course.ehr_injury > 0.3))
        if film_sees > 0:
            leads.append(ehr_sees - film_sees)
    assert len(leads) > 10
    assert np.median(leads) >= 12


def test_confounded_cases_look_sick_in_the_ehr_but_rarely_need_ventilation(
    synth_cohort: tuple[Cohort, SynthSummary], windows: Windows
) -> None:
    cohort, _ = synth_cohort
    phenotype = np.asarray(
        [cohort.extras[cohort.patients[p].key]["phenotype"] for p in windows.patient]
    )
    fio2 = windows.latest[:, VARIABLE_NAMES.index("fio2")]
    stable = phenotype == "stable"
    for confounder in ("copd", "fluid_overload"):
        mask = phenotype == confounder
        assert np.nanmean(fio2[mask]) > np.nanmean(fio2[stable]) + 3
        assert windows.label[mask].mean() < windows.label[phenotype == "lung_injury"].mean() / 2


def test_oracle_is_calibrated(windows: Windows) -> None:
    """The oracle is a probability: its mean and its extremes match the observed labels."""
    assert abs(windows.oracle.mean() - windows.label.mean()) < 0.15 * windows.label.mean()
    assert windows.label[windows.oracle > 0.8].mean() > 0.85
    assert windows.label[windows.oracle < 0.05].mean() < 0.02
