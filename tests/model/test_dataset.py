"""Windows, labels, film selection, splits and normalisation: no leakage across time or split."""

from __future__ import annotations

import csv
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np

from model.cohort import read_cohort
from model.features.dataset import build_windows, fit_on_split, split_of
from tests.model.conftest import TINY_SPEC


def test_prediction_times_and_labels(tiny_cohort: Path) -> None:
    cohort = read_cohort(tiny_cohort)
    w = build_windows(cohort, TINY_SPEC, use_cache=False)
    assert len(w) > 0
    assert 0 < w.label.mean() < 1
    for row in range(len(w)):
        key = w.patient_keys[w.patient[row]]
        t = w.time[row].astype("datetime64[s]").item()
        vent = cohort.ventilation_start.get(key)
        if vent is not None:
            vent_naive = vent.replace(tzinfo=None)
            assert t < vent_naive  # no prediction after ventilation started
            expected = vent_naive - t <= timedelta(hours=24)
        else:
            expected = False
        assert bool(w.label[row]) == expected
    # the simulator's oracle grid is the same as ours
    assert np.isfinite(w.oracle).all()


def test_film_is_latest_before_prediction_and_recent(tiny_cohort: Path) -> None:
    cohort = read_cohort(tiny_cohort)
    w = build_windows(cohort, TINY_SPEC, use_cache=False)
    has = w.film >= 0
    assert has.any()
    assert (~has).any()
    for row in np.flatnonzero(has):
        film = w.film[row]
        t = w.time[row].astype("datetime64[s]").item()
        acquired = w.films.times[film].replace(tzinfo=None)
        assert w.films.keys[film] == w.patient_keys[w.patient[row]]
        assert acquired <= t  # never a film from the future
        assert 0 <= w.film_age_h[row] <= TINY_SPEC.film_max_age_h
        later = [
            ft
            for k, ft in zip(w.films.keys, w.films.times, strict=True)
            if k == w.films.keys[film] and acquired < ft.replace(tzinfo=None) <= t
        ]
        assert not later  # and the latest one


def test_future_data_does_not_change_past_windows(tiny_cohort: Path, tmp_path: Path) -> None:
    """Rewrite every measurement after a cut-off: windows ending before it are unchanged."""
    copy = tmp_path / "cohort"
    shutil.copytree(tiny_cohort, copy)
    cohort = read_cohort(copy)
    cut = cohort.patients[0].stay_start + timedelta(hours=20)
    path = copy / "measurements.csv"
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    for r in rows:
        if r["time"] > cut.isoformat():
            r["value"] = str(float(r["value"]) * 1.5)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    a = build_windows(read_cohort(tiny_cohort), TINY_SPEC, use_cache=False)
    b = build_windows(read_cohort(copy), TINY_SPEC, use_cache=False)
    norm = fit_on_split(cohort, a, set(a.patient_keys))
    early = np.flatnonzero(a.time <= np.datetime64(cut.replace(tzinfo=None), "s"))
    assert early.size > 0
    np.testing.assert_array_equal(a.ehr_inputs(early, norm), b.ehr_inputs(early, norm))
    late = np.flatnonzero(a.time > np.datetime64(cut.replace(tzinfo=None) + timedelta(hours=2)))
    assert not np.array_equal(a.ehr_inputs(late, norm), b.ehr_inputs(late, norm))


def test_splits_are_by_patient_and_normalisation_uses_train_only(tiny_cohort: Path) -> None:
    cohort = read_cohort(tiny_cohort)
    w = build_windows(cohort, TINY_SPEC, use_cache=False)
    splits = {k: split_of(k, 0, 0.3, 0.2) for k in w.patient_keys}
    assert splits == {k: split_of(k, 0, 0.3, 0.2) for k in w.patient_keys}  # deterministic
    per_window = np.asarray([splits[w.patient_keys[p]] for p in w.patient])
    for p in np.unique(w.patient):
        assert len(set(per_window[w.patient == p])) == 1
    train = {k for k, s in splits.items() if s == "train"}
    norm = fit_on_split(cohort, w, train)
    # inflate every non-training patient's values: the normalisation must not move
    cohort.m_value = [
        v if k in train else v * 10 for k, v in zip(cohort.m_key, cohort.m_value, strict=True)
    ]
    assert fit_on_split(cohort, w, train) == norm
    assert norm.fitted_on["patients"] == len(train)


def test_do_not_intubate_stays_are_outside_the_label_population(
    tiny_cohort: Path, tmp_path: Path
) -> None:
    """A DNI stay gives no window; one whose order time is known keeps only the windows whose
    24 h horizon ends before the order."""
    copy = tmp_path / "dni"
    shutil.copytree(tiny_cohort, copy)
    path = copy / "patients.csv"
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    before = build_windows(read_cohort(tiny_cohort), TINY_SPEC, use_cache=False)
    never, later = rows[0]["patient_key"], rows[1]["patient_key"]
    start = read_cohort(tiny_cohort).patients[1].stay_start
    for row in rows:
        row["do_not_intubate"] = "1" if row["patient_key"] in (never, later) else "0"
        row["do_not_intubate_since"] = (
            (start + timedelta(hours=30)).isoformat() if row["patient_key"] == later else ""
        )
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    after = build_windows(read_cohort(copy), TINY_SPEC, use_cache=False)
    keys = np.asarray(after.patient_keys)[after.patient]
    assert never not in set(keys)
    assert after.hours[keys == later].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    old_keys = np.asarray(before.patient_keys)[before.patient]
    others = ~np.isin(old_keys, [never, later])
    assert len(after) == int(others.sum()) + 6
