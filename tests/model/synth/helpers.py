"""Evaluation helpers for the simulator tests: hourly windows with the latest EHR values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from model.cohort import Cohort
from model.variables import VARIABLE_NAMES

HORIZON_S = 24 * 3600


@dataclass(frozen=True)
class Windows:
    """One row per (patient, hourly prediction time) from oracle.csv."""

    patient: np.ndarray  # index into cohort.patients
    time_s: np.ndarray  # epoch seconds
    label: np.ndarray  # bool: ventilation within 24 h
    oracle: np.ndarray
    latest: np.ndarray  # (N, V) latest value at or before t (NaN when never observed)
    film_uid: list[str]  # latest film acquired at or before t within 72 h ("" when none)
    film_time_s: np.ndarray  # NaN when none


def _epoch(values: list[datetime]) -> np.ndarray:
    return np.asarray([v.timestamp() for v in values], dtype=np.float64)


def build_windows(cohort: Cohort, film_max_age_h: float = 72.0) -> Windows:
    """Derive labels and last-observation features at every oracle prediction time."""
    var_index = {n: i for i, n in enumerate(VARIABLE_NAMES)}
    m_key = np.asarray(cohort.m_key)
    m_t = _epoch(cohort.m_time)
    m_v = np.asarray(cohort.m_value)
    m_var = np.asarray([var_index[v] for v in cohort.m_variable])
    order = np.argsort(m_key, kind="stable")
    keys_sorted = m_key[order]
    films_by_key: dict[str, list[tuple[float, str]]] = {}
    for f in cohort.films:
        films_by_key.setdefault(f.key, []).append((f.time.timestamp(), f.sop_instance_uid))
    rows_p, rows_t, rows_l, rows_o, rows_x, uids, ftimes = [], [], [], [], [], [], []
    for p, pat in enumerate(cohort.patients):
        oracle = cohort.oracle.get(pat.key, [])
        if not oracle:
            continue
        t = _epoch([o[0] for o in oracle])
        lo, hi = (
            np.searchsorted(keys_sorted, pat.key),
            np.searchsorted(keys_sorted, pat.key, "right"),
        )
        idx = order[lo:hi]
        latest = np.full((t.size, len(VARIABLE_NAMES)), np.nan)
        for v in range(len(VARIABLE_NAMES)):
            sel = idx[m_var[idx] == v]
            if sel.size == 0:
                continue
            sel = sel[np.argsort(m_t[sel], kind="stable")]
            pos = np.searchsorted(m_t[sel], t, side="right") - 1
            latest[:, v] = np.where(pos >= 0, m_v[sel][np.maximum(pos, 0)], np.nan)
        vent = cohort.ventilation_start.get(pat.key)
        label = np.zeros(t.size, bool)
        if vent is not None:
            vs = vent.timestamp()
            label = (vs > t) & (vs <= t + HORIZON_S)
        films = sorted(films_by_key.get(pat.key, []))
        f_t = np.asarray([f[0] for f in films])
        pos = np.searchsorted(f_t, t, side="right") - 1 if films else np.full(t.size, -1)
        for k in range(t.size):
            j = int(pos[k])
            ok = j >= 0 and t[k] - f_t[j] <= film_max_age_h * 3600
            uids.append(films[j][1] if ok else "")
            ftimes.append(f_t[j] if ok else np.nan)
        rows_p.append(np.full(t.size, p))
        rows_t.append(t)
        rows_l.append(label)
        rows_o.append(np.asarray([o[1] for o in oracle]))
        rows_x.append(latest)
    return Windows(
        patient=np.concatenate(rows_p),
        time_s=np.concatenate(rows_t),
        label=np.concatenate(rows_l),
        oracle=np.concatenate(rows_o),
        latest=np.concatenate(rows_x),
        film_uid=uids,
        film_time_s=np.asarray(ftimes),
    )


def impute(latest: np.ndarray) -> np.ndarray:
    """Median-impute and add missingness indicators (for a plain logistic regression)."""
    med = np.nanmedian(latest, axis=0)
    med = np.where(np.isnan(med), 0.0, med)
    filled = np.where(np.isnan(latest), med, latest)
    return np.concatenate([filled, np.isnan(latest).astype(np.float64)], axis=1)


def lung_opacity_index(display: np.ndarray) -> float:
    """A crude film-derived feature: brightness of fixed lung zones relative to the mediastinum.

    ``display`` is higher = denser. Zones are in the renderer's physical coordinates (the shorter
    side spans -1..1), so the index works for every matrix size and aspect.
    """
    rows, cols = display.shape
    scale = min(rows, cols) / 2.0

    def zone(x0: float, x1: float, y0: float, y1: float) -> float:
        r0, r1 = int(rows / 2 + y0 * scale), int(rows / 2 + y1 * scale)
        c0, c1 = int(cols / 2 + x0 * scale), int(cols / 2 + x1 * scale)
        return float(display[r0:r1, c0:c1].mean())

    lungs = (zone(-0.55, -0.2, -0.4, 0.3) + zone(0.2, 0.55, -0.4, 0.1)) / 2.0
    mediastinum = zone(-0.05, 0.05, -0.6, -0.3)
    air = min(zone(-0.98, -0.9, -0.98, -0.9), zone(0.9, 0.98, -0.98, -0.9))
    return (lungs - air) / (mediastinum - air + 1e-6)
