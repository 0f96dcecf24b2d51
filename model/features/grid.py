"""The hourly EHR grid (GRU-D style value / mask / time-since-last) shared by training and serving.

Bin ``k`` of a patient covers hours ``(k, k+1]`` after the patient's grid origin; a measurement at
time ``h`` (hours after the origin) falls in bin ``ceil(h) - 1``. Within a window of ``L`` bins the
value of a variable is its last observation *inside the window* (carried forward), the mask says
whether it was observed in that bin, and the delta is the hours since that observation (``L`` when
none in the window). Values outside the variable's plausible range are dropped as artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.features.spec import FeatureSpec, Normalisation

#: Clip for normalised values, so a wild but "plausible" value cannot dominate.
Z_CLIP = 6.0


@dataclass(slots=True)
class Grid:
    """Hourly arrays of one or more patients stacked along the bin axis."""

    raw_ff: np.ndarray  # (N, V) float32: last raw value so far (NaN before the first)
    observed: np.ndarray  # (N, V) bool: observed in this bin
    last_bin: np.ndarray  # (N, V) int64: bin index of the last observation so far (-1 none)
    last_time: np.ndarray  # (N, V) float32: hours (patient origin) of that observation
    bin_end: np.ndarray  # (N,) float32: end of each bin in hours after the patient origin

    @property
    def n_bins(self) -> int:
        return int(self.bin_end.shape[0])


def build_grid(
    times_h: np.ndarray, var_idx: np.ndarray, values: np.ndarray, n_bins: int, n_vars: int
) -> Grid:
    """Grid of one patient from measurement hours (after its origin), variable indices, values."""
    times_h = np.asarray(times_h, np.float64)
    bins = np.ceil(times_h).astype(np.int64) - 1
    keep = (bins >= 0) & (bins < n_bins)
    order = np.argsort(times_h[keep], kind="stable")
    bins, var, val, tim = (
        bins[keep][order],
        np.asarray(var_idx)[keep][order],
        np.asarray(values)[keep][order],
        times_h[keep][order],
    )
    cell = bins * n_vars + var
    # last observation per (bin, variable): first occurrence in the reversed (time-sorted) order
    _, first_rev = np.unique(cell[::-1], return_index=True)
    last = cell.size - 1 - first_rev
    raw_bin = np.full((n_bins, n_vars), np.nan, np.float32)
    time_bin = np.zeros((n_bins, n_vars), np.float32)
    observed = np.zeros((n_bins, n_vars), bool)
    raw_bin[bins[last], var[last]] = val[last]
    time_bin[bins[last], var[last]] = tim[last]
    observed[bins[last], var[last]] = True
    idx = np.where(observed, np.arange(n_bins)[:, None], -1)
    last_bin = np.maximum.accumulate(idx, axis=0)
    safe = np.maximum(last_bin, 0)
    cols = np.arange(n_vars)[None, :]
    raw_ff = np.where(last_bin >= 0, raw_bin[safe, cols], np.nan).astype(np.float32)
    last_time = np.where(last_bin >= 0, time_bin[safe, cols], 0.0).astype(np.float32)
    return Grid(
        raw_ff=raw_ff,
        observed=observed,
        last_bin=last_bin.astype(np.int64),
        last_time=last_time,
        bin_end=np.arange(1, n_bins + 1, dtype=np.float32),
    )


def stack_grids(grids: list[Grid]) -> tuple[Grid, np.ndarray]:
    """Concatenate patient grids; returns the stacked grid and each patient's bin offset."""
    offsets = np.cumsum([0] + [g.n_bins for g in grids[:-1]]).astype(np.int64)
    last_bin = [
        np.where(g.last_bin >= 0, g.last_bin + off, -1)
        for g, off in zip(grids, offsets, strict=True)
    ]
    return (
        Grid(
            raw_ff=np.concatenate([g.raw_ff for g in grids]),
            observed=np.concatenate([g.observed for g in grids]),
            last_bin=np.concatenate(last_bin),
            last_time=np.concatenate([g.last_time for g in grids]),
            bin_end=np.concatenate([g.bin_end for g in grids]),
        ),
        offsets,
    )


def window_tensor(
    grid: Grid,
    end_bins: np.ndarray,
    static: np.ndarray,
    spec: FeatureSpec,
    norm: Normalisation,
) -> np.ndarray:
    """EHR input ``(B, L, 3V+2)`` for windows ending at ``end_bins`` (stacked-grid indices).

    ``static`` is ``(B, 2)``. Every window must have ``L`` bins of the same patient before
    its end (training grids are padded with ``L`` empty bins before the stay).
    """
    lookback = spec.lookback_h
    end_bins = np.asarray(end_bins, np.int64)
    idx = end_bins[:, None] - lookback + 1 + np.arange(lookback)[None, :]
    start = (end_bins - lookback + 1)[:, None, None]
    valid = grid.last_bin[idx] >= start
    mean, std = norm.arrays()
    z = np.clip((grid.raw_ff[idx] - mean) / std, -Z_CLIP, Z_CLIP)
    value = np.where(valid, z, 0.0)
    mask = grid.observed[idx].astype(np.float32)
    delta = grid.bin_end[idx][:, :, None] - grid.last_time[idx]
    delta = np.where(valid, np.minimum(delta, lookback), lookback) / lookback
    stat = np.broadcast_to(static[:, None, :], (len(end_bins), lookback, static.shape[1]))
    return np.concatenate([value, mask, delta, stat], axis=2).astype(np.float32)


def latest_raw(grid: Grid, end_bins: np.ndarray, lookback: int) -> np.ndarray:
    """Last raw value of every variable inside each window ``(B, V)`` (NaN when none)."""
    end_bins = np.asarray(end_bins, np.int64)
    valid = grid.last_bin[end_bins] >= (end_bins - lookback + 1)[:, None]
    return np.where(valid, grid.raw_ff[end_bins], np.nan).astype(np.float32)
