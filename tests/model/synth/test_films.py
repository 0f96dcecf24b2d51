"""Films in the cohort: timing relative to prediction times, tube, encoding (synthetic)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from model.cohort import Cohort
from model.synth import SynthSummary
from tests.model.synth.helpers import build_windows


def test_no_window_sees_a_film_acquired_after_its_prediction_time(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    cohort, _ = synth_cohort
    w = build_windows(cohort)
    with_film = ~np.isnan(w.film_time_s)
    assert with_film.mean() > 0.7
    assert np.all(w.film_time_s[with_film] <= w.time_s[with_film])


def test_films_showing_a_tube_are_all_after_ventilation_start_and_never_in_a_window(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    cohort, _ = synth_cohort
    tubes = 0
    for film in cohort.films:
        tube = cohort.film_truth[film.sop_instance_uid]["tube"] == "1"
        vent = cohort.ventilation_start.get(film.key)
        assert tube == (vent is not None and film.time > vent)
        tubes += tube
    assert tubes > 0
    w = build_windows(cohort)
    seen = {u for u in w.film_uid if u}
    assert all(cohort.film_truth[u]["tube"] == "0" for u in seen)


def test_films_are_roughly_daily_and_absent_for_some_patients(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    cohort, _ = synth_cohort
    per_patient = {p.key: 0 for p in cohort.patients}
    for film in cohort.films:
        per_patient[film.key] += 1
    days = {p.key: (p.stay_end - p.stay_start).total_seconds() / 86400 for p in cohort.patients}
    rate = sum(per_patient.values()) / sum(days.values())
    assert 0.7 <= rate <= 1.6
    assert 0 < sum(n == 0 for n in per_patient.values()) < 0.2 * len(per_patient)
    stays = {p.key: (p.stay_start, p.stay_end) for p in cohort.patients}
    assert all(stays[f.key][0] < f.time < stays[f.key][1] for f in cohort.films)


def test_film_files_match_their_declared_encoding(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    cohort, _ = synth_cohort
    shapes = set()
    for film in cohort.films[:200]:
        with Image.open(cohort.root / film.path) as img:
            assert img.mode.startswith("I;16") or img.mode == "I"
            pixels = np.asarray(img)
        shapes.add(pixels.shape)
        assert int(pixels.max()) < 2**film.bits_stored
        background = float(pixels[:3, :3].mean()) / (2**film.bits_stored - 1)
        # outside the body is air: dark on MONOCHROME2, bright on MONOCHROME1
        assert (background > 0.7) if film.photometric == "MONOCHROME1" else (background < 0.3)
    assert len(shapes) >= 2


def test_films_show_the_injury_before_the_oxygen_requirement_rises(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    """Charted data: the first film with consolidation >= 0.2 precedes FiO2 >= 40% by hours."""
    cohort, _ = synth_cohort
    first_film: dict[str, float] = {}
    for film in sorted(cohort.films, key=lambda f: f.time):
        if float(cohort.film_truth[film.sop_instance_uid]["consolidation"]) >= 0.2:
            first_film.setdefault(film.key, film.time.timestamp())
    first_fio2: dict[str, float] = {}
    for key, time, variable, value in zip(
        cohort.m_key, cohort.m_time, cohort.m_variable, cohort.m_value, strict=True
    ):
        if variable == "fio2" and value >= 40 and key in first_film:
            first_fio2[key] = min(first_fio2.get(key, np.inf), time.timestamp())
    leads_h = [(first_fio2[k] - first_film[k]) / 3600 for k in first_fio2]
    assert len(leads_h) >= 15
    assert np.median(leads_h) >= 6
