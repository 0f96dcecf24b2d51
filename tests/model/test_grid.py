"""model.features.grid: hourly bins, carry-forward inside the window only, deltas."""

from __future__ import annotations

import numpy as np
import pytest

from model.features.grid import build_grid, latest_raw, window_tensor
from model.features.spec import FeatureSpec, Normalisation

SPEC = FeatureSpec(variables=("heart_rate", "spo2"), lookback_h=4, film_size=16)
NORM = Normalisation(mean=(80.0, 95.0), std=(10.0, 2.0))


def test_last_value_per_bin_and_carry_forward() -> None:
    # bins (0,1], (1,2], ...; two HR values in bin 1, the later one wins
    grid = build_grid(
        np.asarray([1.2, 1.9, 0.5, 3.0]),
        np.asarray([0, 0, 1, 1]),
        np.asarray([70.0, 90.0, 97.0, 93.0]),
        n_bins=5,
        n_vars=2,
    )
    assert grid.observed[:, 0].tolist() == [False, True, False, False, False]
    assert np.isnan(grid.raw_ff[0, 0])
    assert grid.raw_ff[1, 0] == 90.0
    assert grid.raw_ff[4, 0] == 90.0
    assert grid.raw_ff[:, 1].tolist() == [97.0, 97.0, 93.0, 93.0, 93.0]  # 3.0 falls in bin 2
    assert grid.last_time[4, 0] == pytest.approx(1.9)


def test_window_tensor_values_masks_deltas() -> None:
    grid = build_grid(np.asarray([1.5, 4.5]), np.asarray([0, 1]), np.asarray([100.0, 91.0]), 5, 2)
    x = window_tensor(grid, np.asarray([4]), np.zeros((1, 2), np.float32), SPEC, NORM)
    assert x.shape == (1, 4, 3 * 2 + 2)
    # window = bins 1..4; HR observed in bin 1 (=+2 SD), carried forward with growing delta
    assert x[0, :, 0].tolist() == pytest.approx([2.0, 2.0, 2.0, 2.0])
    assert x[0, :, 2].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert x[0, :, 4].tolist() == pytest.approx([0.5 / 4, 1.5 / 4, 2.5 / 4, 3.5 / 4])
    # SpO2 only in the last bin: before it "never seen" (value 0, delta = 1)
    assert x[0, :, 1].tolist() == pytest.approx([0.0, 0.0, 0.0, -2.0])
    assert x[0, :, 5].tolist() == pytest.approx([1.0, 1.0, 1.0, 0.5 / 4])


def test_values_before_the_window_are_not_carried_in() -> None:
    grid = build_grid(np.asarray([0.5]), np.asarray([0]), np.asarray([120.0]), 8, 2)
    x = window_tensor(grid, np.asarray([7]), np.zeros((1, 2), np.float32), SPEC, NORM)
    assert np.all(x[0, :, 0] == 0.0)
    assert np.all(x[0, :, 4] == 1.0)
    assert np.isnan(latest_raw(grid, np.asarray([7]), 4)[0, 0])
    assert latest_raw(grid, np.asarray([3]), 4)[0, 0] == 120.0


def test_measurements_after_the_last_bin_are_ignored() -> None:
    grid = build_grid(np.asarray([4.5, 9.0]), np.asarray([0, 0]), np.asarray([1.0, 2.0]), 4, 2)
    assert not grid.observed.any()
