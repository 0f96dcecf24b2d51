"""ROX, SpO2/FiO2 and the bedside rules on hand-worked values."""

from __future__ import annotations

import numpy as np
import pytest

from model.comparators import ComparatorError, compute_comparators, rox_index, sf_ratio

NAN = float("nan")


def test_rox_hand_worked_examples() -> None:
    # SpO2 92 % on FiO2 40 % at RR 25: (92 / 0.40) / 25 = 230 / 25 = 9.2
    # SpO2 88 % on FiO2 60 % at RR 35: (88 / 0.60) / 35 = 146.67 / 35 = 4.190
    # SpO2 85 % on FiO2 80 % at RR 32: (85 / 0.80) / 32 = 106.25 / 32 = 3.320
    # SpO2 97 % on room air (21 %) at RR 16: (97 / 0.21) / 16 = 461.9 / 16 = 28.87
    rox = rox_index(
        np.array([92.0, 88.0, 85.0, 97.0]),
        np.array([40.0, 60.0, 80.0, 21.0]),
        np.array([25.0, 35.0, 32.0, 16.0]),
    )
    np.testing.assert_allclose(rox, [9.2, 4.190476, 3.3203125, 28.869048], rtol=1e-6)


def test_rox_is_nan_when_an_input_is_missing_or_rr_not_positive() -> None:
    rox = rox_index(
        np.array([NAN, 92.0, 92.0, 92.0]),
        np.array([40.0, NAN, 40.0, 40.0]),
        np.array([25.0, 25.0, NAN, 0.0]),
    )
    assert np.isnan(rox).all()


def test_sf_ratio_uses_fio2_as_a_fraction() -> None:
    # Rice 2007: S/F 235 ~ P/F 200. SpO2 94 % on FiO2 40 % is exactly 235.
    np.testing.assert_allclose(
        sf_ratio(np.array([94.0, 97.0]), np.array([40.0, 21.0])), [235.0, 461.904762]
    )


def _latest(spo2: list[float], fio2: list[float], rr: list[float]) -> dict[str, np.ndarray]:
    return {"spo2": np.array(spo2), "fio2": np.array(fio2), "resp_rate": np.array(rr)}


def test_rules_on_hand_worked_windows() -> None:
    flags = compute_comparators(
        _latest(
            spo2=[92.0, 88.0, 85.0, 94.0, 77.0, 96.0],
            fio2=[40.0, 60.0, 80.0, 41.0, 50.0, 21.0],
            rr=[25.0, 35.0, 32.0, 22.0, 40.0, 30.0],
        )
    )
    # window:                       0    1    2    3    4    5
    # ROX                         9.2 4.19 3.32 10.4 3.85 15.2
    # S/F                         230  147  106  229  154  457
    np.testing.assert_array_equal(flags["rox_lt_3_85"], [0, 0, 1, 0, 0, 0])  # 3.85 is not < 3.85
    np.testing.assert_array_equal(flags["rox_lt_4_88"], [0, 1, 1, 0, 1, 0])
    np.testing.assert_array_equal(flags["sf_lt_235"], [1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(flags["sf_lt_315"], [1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(flags["rr_ge_30"], [0, 1, 1, 0, 1, 1])
    np.testing.assert_array_equal(flags["fio2_ge_60"], [0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(flags["any_criterion"], [1, 1, 1, 1, 1, 1])


def test_missing_values_are_not_evaluable_and_any_criterion_still_fires() -> None:
    flags = compute_comparators(
        _latest(spo2=[NAN, NAN, 97.0], fio2=[NAN, NAN, 21.0], rr=[34.0, 20.0, 16.0])
    )
    assert np.isnan(flags["rox_lt_3_85"][:2]).all()
    assert np.isnan(flags["sf_lt_235"][:2]).all()
    # RR 34 meets a criterion whatever else is missing; RR 20 with no SpO2/FiO2 is unknown.
    np.testing.assert_array_equal(flags["any_criterion"][[0, 2]], [1.0, 0.0])
    assert np.isnan(flags["any_criterion"][1])


def test_room_air_fill_for_sources_that_do_not_chart_it() -> None:
    latest = _latest(spo2=[90.0], fio2=[NAN], rr=[20.0])
    assert np.isnan(compute_comparators(latest)["sf_lt_315"][0])
    filled = compute_comparators(latest, fio2_when_missing=21.0)
    assert filled["sf_lt_315"][0] == 0.0  # 90 / 0.21 = 428.6
    assert filled["fio2_ge_60"][0] == 0.0


def test_fio2_given_as_a_fraction_is_refused() -> None:
    with pytest.raises(ComparatorError, match="percent"):
        compute_comparators(_latest(spo2=[92.0], fio2=[0.4], rr=[25.0]))


def test_missing_variable_and_bad_shapes_are_refused() -> None:
    with pytest.raises(ComparatorError, match="resp_rate"):
        compute_comparators({"spo2": np.array([92.0]), "fio2": np.array([40.0])})
    with pytest.raises(ComparatorError, match="one length"):
        compute_comparators(_latest(spo2=[92.0, 90.0], fio2=[40.0], rr=[25.0]))
