"""The evaluation's one home of bootstrap and confusion helpers, on arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from model.evaluation.bootstrap import patient_weights, percentile_ci, replicate_weights
from model.evaluation.metrics import confusion, operating_point
from tests.model.comparators.test_operating_points import _constructed_windows


def test_confusion_counts_and_rates() -> None:
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    alerts = np.array([1, 1, 0, 1, 0, 0, 0, np.nan])  # NaN: rule not evaluable → no alert
    c = confusion(labels, alerts)
    assert (c.tp, c.fn, c.fp, c.tn) == (2, 1, 1, 4)
    assert c.sensitivity == pytest.approx(2 / 3)
    assert c.specificity == pytest.approx(4 / 5)
    assert c.ppv == pytest.approx(2 / 3)
    assert c.npv == pytest.approx(4 / 5)


def test_operating_point_reads_the_confusion_counts() -> None:
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    probs = np.array([0.9, 0.8, 0.1, 0.7, 0.2, 0.1, 0.1, 0.3])
    point = operating_point(labels, probs, 0.5)
    assert point["sensitivity"] == pytest.approx(2 / 3)
    assert point["specificity"] == pytest.approx(4 / 5)
    assert point["ppv"] == pytest.approx(2 / 3)
    assert point["alert_rate"] == pytest.approx(3 / 8)


def test_patient_weights_are_the_replicate_weights_stacked() -> None:
    patients = np.array(["b", "a", "b", "c", "a"])
    matrix, uniq = patient_weights(patients, 30, seed=4)
    codes = np.unique(patients, return_inverse=True)[1]
    stacked = np.stack(list(replicate_weights(codes, 3, 30, seed=4)))
    assert list(uniq) == ["a", "b", "c"]
    assert np.array_equal(matrix, stacked)
    # the draws of the report's bootstrap as they always were: one multinomial per replicate
    drawn = np.random.default_rng(4).multinomial(3, np.full(3, 1 / 3), size=30)
    assert np.array_equal(matrix, drawn[:, codes])


def test_bootstrap_resamples_patients_and_ci_contains_the_estimate() -> None:
    w = _constructed_windows()
    replicates = list(replicate_weights(w.codes, w.n_patients, 200, seed=1))
    for weights in replicates[:20]:
        for code in range(w.n_patients):
            assert np.unique(weights[w.codes == code]).size == 1  # whole patients, never windows
        assert weights[np.unique(w.codes, return_index=True)[1]].sum() == w.n_patients
    again = list(replicate_weights(w.codes, w.n_patients, 200, seed=1))
    assert all(np.array_equal(a, b) for a, b in zip(replicates, again, strict=True))

    rng = np.random.default_rng(5)
    samples = 0.6 + rng.normal(0, 0.05, 1000)
    lo, hi = percentile_ci(samples, 0.95)
    assert lo < 0.6 < hi
    assert (lo, hi) == pytest.approx((0.6 - 1.96 * 0.05, 0.6 + 1.96 * 0.05), abs=0.01)
    assert np.isnan(percentile_ci(np.full(10, np.nan), 0.95)[0])
