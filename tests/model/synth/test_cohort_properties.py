"""Rates and format of a simulated cohort (all synthetic)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np

from model.cohort import Cohort, read_cohort
from model.schemas import PatientKey
from model.synth import DEFAULT_MRN_SYSTEM, Phenotype, SynthSummary
from model.variables import BY_NAME, VARIABLE_NAMES


def test_ventilated_stays_and_positive_windows_are_in_the_target_range(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    cohort, summary = synth_cohort
    assert 0.10 <= summary.ventilated_fraction <= 0.25
    assert 0.01 <= summary.positive_window_fraction <= 0.09
    assert len(cohort.ventilation_start) == summary.ventilated
    assert sum(len(v) for v in cohort.oracle.values()) == summary.prediction_times


def test_every_phenotype_occurs_and_is_recorded(synth_cohort: tuple[Cohort, SynthSummary]) -> None:
    cohort, summary = synth_cohort
    phenotypes = Counter(e["phenotype"] for e in cohort.extras.values())
    assert set(phenotypes) == {p.value for p in Phenotype}
    assert phenotypes == Counter(summary.phenotypes)
    for extra in cohort.extras.values():
        assert extra["ehr_ambiguous"] in ("0", "1")
        assert extra["outcome"] in ("ventilated", "discharged", "died")
    assert all(cohort.extras[k]["outcome"] == "ventilated" for k in cohort.ventilation_start)


def test_patient_keys_use_the_mrn_system(synth_cohort: tuple[Cohort, SynthSummary]) -> None:
    cohort, _ = synth_cohort
    keys = [PatientKey.parse(p.key) for p in cohort.patients]
    assert {k.system for k in keys} == {DEFAULT_MRN_SYSTEM}
    assert len({k.value for k in keys}) == len(keys)
    meta = json.loads((cohort.root / "cohort.json").read_text())
    assert meta["synthetic"] is True
    assert meta["mrn_system"] == DEFAULT_MRN_SYSTEM


def test_measurements_cover_every_variable_in_plausible_ranges(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    cohort, _ = synth_cohort
    values = np.asarray(cohort.m_value)
    names = np.asarray(cohort.m_variable)
    assert set(names.tolist()) == set(VARIABLE_NAMES)
    for name in VARIABLE_NAMES:
        v = values[names == name]
        assert v.min() >= BY_NAME[name].plausible_min
        assert v.max() <= BY_NAME[name].plausible_max


def test_measurements_lie_within_their_stays(synth_cohort: tuple[Cohort, SynthSummary]) -> None:
    cohort, _ = synth_cohort
    stays = {p.key: (p.stay_start, p.stay_end) for p in cohort.patients}
    for key, time in zip(cohort.m_key[::50], cohort.m_time[::50], strict=True):
        start, end = stays[key]
        assert start <= time <= end


def test_charting_is_irregular_and_incomplete(synth_cohort: tuple[Cohort, SynthSummary]) -> None:
    cohort, _ = synth_cohort
    first = cohort.patients[0]
    hours = (first.stay_end - first.stay_start).total_seconds() / 3600.0
    per_var = Counter(
        v for k, v in zip(cohort.m_key, cohort.m_variable, strict=True) if k == first.key
    )
    assert per_var["heart_rate"] < 1.6 * hours  # not a perfect hourly grid of every variable
    assert per_var["pao2"] < per_var["heart_rate"] / 2  # blood gases every few hours
    minutes = {t.minute for k, t in zip(cohort.m_key, cohort.m_time, strict=True) if k == first.key}
    assert len(minutes) > 20  # charted at irregular minutes


def test_nurses_titrate_oxygen_so_spo2_hides_the_injury(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    cohort, _ = synth_cohort
    names = np.asarray(cohort.m_variable)
    values = np.asarray(cohort.m_value)
    spo2 = values[names == "spo2"]
    assert np.median(spo2) >= 92
    assert np.mean(spo2 >= 88) > 0.9
    fio2 = values[names == "fio2"]
    assert np.mean(fio2 > 21) > 0.2  # many patients need oxygen to stay in range


def test_read_cohort_keeps_the_film_encoding(synth_cohort: tuple[Cohort, SynthSummary]) -> None:
    cohort, _ = synth_cohort
    again = read_cohort(cohort.root)
    assert {f.photometric for f in again.films} == {"MONOCHROME1", "MONOCHROME2"}
    assert {f.bits_stored for f in again.films} <= {12, 14, 15, 16}
    assert all(f.study_instance_uid and f.series_instance_uid for f in again.films)
    assert set(again.film_truth) == {f.sop_instance_uid for f in again.films}
