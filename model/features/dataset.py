"""Windowed dataset from a cohort directory: hourly prediction times, labels, films, splits.

Prediction times are ``stay_start + k h`` (k >= 1) while the time is before the ventilation start
(if any) and not after the stay end; the label is "ventilation starts in (t, t + 24 h]". Each
window sees the lookback of EHR bins and the latest film acquired in ``[t - max_age, t]``.
Splits are by patient (a hash of seed and key), so no patient is in two splits.

Do-not-intubate / comfort-care stays (``patients.csv`` ``do_not_intubate``) are outside the label
population, as in published ventilation-prediction studies: such a patient gives no window, or,
when the order's time is known, only windows whose 24 h horizon ends before it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from model.cohort import Cohort
from model.features.films import FilmStore, load_films, select_latest
from model.features.grid import Grid, build_grid, stack_grids, window_tensor
from model.features.spec import (
    FeatureSpec,
    Normalisation,
    fit_normalisation,
    plausible,
    static_features,
)

HORIZON_H = 24.0
_HOUR = timedelta(hours=1)
SPLITS = ("train", "val", "test")


@dataclass(slots=True)
class WindowSet:
    """Every prediction window of a cohort plus what is needed to build its tensors."""

    spec: FeatureSpec
    grid: Grid
    patient_keys: list[str]
    patient_age: np.ndarray  # (P,)
    patient_sex: list[str | None]
    phenotype: list[str]  # per patient, from extras.csv ("" when unknown)
    ehr_ambiguous: np.ndarray  # (P,) float: 1 ambiguous, 0 clear, NaN unknown
    patient: np.ndarray  # (W,) patient index
    end_bin: np.ndarray  # (W,) stacked-grid bin index of the window end
    time: np.ndarray  # (W,) datetime64[s] prediction time (UTC)
    hours: np.ndarray  # (W,) hours after the patient's stay start
    label: np.ndarray  # (W,) float32 0/1
    film: np.ndarray  # (W,) index into films.data, -1 none
    film_age_h: np.ndarray  # (W,) float32, NaN none
    oracle: np.ndarray  # (W,) float32, NaN unknown
    vent_hours: np.ndarray  # (W,) hours after stay start of ventilation, NaN never
    films: FilmStore

    def __len__(self) -> int:
        return int(self.label.shape[0])

    def subset(self, rows: np.ndarray) -> WindowSet:
        """Windows at ``rows`` (grid, patients and films shared)."""
        return WindowSet(
            spec=self.spec,
            grid=self.grid,
            patient_keys=self.patient_keys,
            patient_age=self.patient_age,
            patient_sex=self.patient_sex,
            phenotype=self.phenotype,
            ehr_ambiguous=self.ehr_ambiguous,
            patient=self.patient[rows],
            end_bin=self.end_bin[rows],
            time=self.time[rows],
            hours=self.hours[rows],
            label=self.label[rows],
            film=self.film[rows],
            film_age_h=self.film_age_h[rows],
            oracle=self.oracle[rows],
            vent_hours=self.vent_hours[rows],
            films=self.films,
        )

    def ehr_inputs(self, rows: np.ndarray, norm: Normalisation) -> np.ndarray:
        """EHR tensor ``(B, L, 3V+2)`` of the windows at ``rows``."""
        patients = self.patient[rows]
        static = (
            np.stack(
                [
                    static_features(float(self.patient_age[p]), self.patient_sex[p], norm)
                    for p in patients
                ]
            )
            if len(rows)
            else np.zeros((0, 2), np.float32)
        )
        return window_tensor(self.grid, self.end_bin[rows], static, self.spec, norm)


def split_of(key: str, seed: int, val_fraction: float, test_fraction: float) -> str:
    """Deterministic patient-level split from a hash of (seed, key)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"


def _hours(times: list[datetime], origin: datetime) -> np.ndarray:
    return np.asarray([(t - origin).total_seconds() / 3600.0 for t in times], np.float64)


def _ambiguity(extra: dict[str, str]) -> float:
    flag = extra.get("ehr_ambiguous", "")
    if flag in ("0", "1"):
        return float(flag)
    phen = extra.get("phenotype", "")
    if phen in ("copd", "sepsis_clear_lungs", "fluid_overload"):
        return 1.0
    return 0.0 if phen else float("nan")


def build_windows(cohort: Cohort, spec: FeatureSpec, *, use_cache: bool = True) -> WindowSet:
    """All prediction windows of a cohort (features are normalised later, per split)."""
    var_index = {name: i for i, name in enumerate(spec.variables)}
    n_vars = len(spec.variables)
    m_key = np.asarray(cohort.m_key, dtype=object)
    m_var = np.asarray([var_index.get(v, -1) for v in cohort.m_variable], np.int64)
    m_val = np.asarray(cohort.m_value, np.float64)
    keep = m_var >= 0
    for name, i in var_index.items():
        rows = m_var == i
        keep[rows] &= plausible(name, m_val[rows])
    by_patient: dict[str, np.ndarray] = {}
    if len(m_key):
        order = np.argsort(m_key[keep], kind="stable")
        kept = np.flatnonzero(keep)[order]
        keys_sorted = m_key[kept]
        uniq, starts = np.unique(keys_sorted, return_index=True)
        bounds = [*starts.tolist(), len(kept)]
        by_patient = {str(k): kept[bounds[i] : bounds[i + 1]] for i, k in enumerate(uniq)}
    films = load_films(cohort, spec.film_size, use_cache=use_cache)
    film_rows: dict[str, list[int]] = {}
    for i, key in enumerate(films.keys):
        film_rows.setdefault(key, []).append(i)

    grids: list[Grid] = []
    pieces: dict[str, list[np.ndarray]] = {
        k: []
        for k in ("patient", "local_end", "hours", "label", "film", "age", "oracle", "vent", "time")
    }
    lookback = spec.lookback_h
    for p, pat in enumerate(cohort.patients):
        origin = pat.stay_start
        vent = cohort.ventilation_start.get(pat.key)
        last_h = (pat.stay_end - origin).total_seconds() / 3600.0
        if vent is not None:  # strictly before ventilation; up to and including the stay end
            last_h = min(last_h, (vent - origin).total_seconds() / 3600.0 - 1e-6)
        if pat.do_not_intubate:  # outside the label population: only windows whose whole
            # horizon ends before the do-not-intubate order (none when its time is unknown)
            since = pat.do_not_intubate_since
            dni_h = (since - origin).total_seconds() / 3600.0 if since is not None else 0.0
            last_h = min(last_h, dni_h - HORIZON_H)
        n_pred = max(int(np.floor(last_h)), 0)
        rows = by_patient.get(pat.key, np.zeros(0, np.int64))
        times_h = np.asarray([(cohort.m_time[r] - origin).total_seconds() / 3600.0 for r in rows])
        grid = build_grid(times_h + lookback, m_var[rows], m_val[rows], n_pred + lookback, n_vars)
        grids.append(grid)
        k = np.arange(1, n_pred + 1, dtype=np.int64)
        hours = k.astype(np.float64)
        vent_h = np.nan if vent is None else (vent - origin).total_seconds() / 3600.0
        label = (
            ((vent_h > hours) & (vent_h <= hours + HORIZON_H))
            if vent is not None
            else (np.zeros(n_pred, bool))
        )
        f_rows = sorted(film_rows.get(pat.key, []), key=lambda i: films.times[i])
        f_hours = _hours([films.times[i] for i in f_rows], origin)
        pos, age = select_latest(f_hours, hours, spec.film_max_age_h)
        film_idx = np.where(pos >= 0, np.asarray([*f_rows, -1], np.int64)[pos], -1)
        oracle_map = dict(cohort.oracle.get(pat.key, []))
        times = [origin + (kk * _HOUR) for kk in k.tolist()]
        pieces["patient"].append(np.full(n_pred, p, np.int64))
        pieces["local_end"].append(k - 1 + lookback)
        pieces["hours"].append(hours)
        pieces["label"].append(label.astype(np.float32))
        pieces["film"].append(film_idx)
        pieces["age"].append(age)
        pieces["oracle"].append(np.asarray([oracle_map.get(t, np.nan) for t in times], np.float32))
        pieces["vent"].append(np.full(n_pred, vent_h, np.float64))
        pieces["time"].append(
            np.asarray(
                [
                    np.datetime64(t.replace(tzinfo=None), "s")
                    for t in [tt.astimezone(UTC) for tt in times]
                ],
                dtype="datetime64[s]",
            )
        )
    grid, offsets = (
        stack_grids(grids)
        if grids
        else (
            build_grid(np.zeros(0), np.zeros(0, np.int64), np.zeros(0), 0, n_vars),
            np.zeros(0, np.int64),
        )
    )
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in pieces.items()}
    patient = cat["patient"].astype(np.int64)
    extras = [cohort.extras.get(p.key, {}) for p in cohort.patients]
    return WindowSet(
        spec=spec,
        grid=grid,
        patient_keys=[p.key for p in cohort.patients],
        patient_age=np.asarray([np.nan if p.age is None else p.age for p in cohort.patients]),
        patient_sex=[p.sex for p in cohort.patients],
        phenotype=[e.get("phenotype", "") for e in extras],
        ehr_ambiguous=np.asarray([_ambiguity(e) for e in extras], np.float32),
        patient=patient,
        end_bin=offsets[patient] + cat["local_end"].astype(np.int64),
        time=cat["time"].astype("datetime64[s]"),
        hours=cat["hours"].astype(np.float64),
        label=cat["label"].astype(np.float32),
        film=cat["film"].astype(np.int64),
        film_age_h=cat["age"].astype(np.float32),
        oracle=cat["oracle"].astype(np.float32),
        vent_hours=cat["vent"].astype(np.float64),
        films=films,
    )


def fit_on_split(cohort: Cohort, windows: WindowSet, train_keys: set[str]) -> Normalisation:
    """Normalisation from the training patients' measurements only."""
    var_index = {name: i for i, name in enumerate(windows.spec.variables)}
    keys = np.asarray(cohort.m_key, dtype=object)
    in_train = np.asarray([k in train_keys for k in keys], bool)
    var = np.asarray([var_index.get(v, -1) for v in cohort.m_variable], np.int64)
    val = np.asarray(cohort.m_value, np.float64)
    ok = in_train & (var >= 0)
    for name, i in var_index.items():
        rows = ok & (var == i)
        ok[rows] = plausible(name, val[rows])
    ages = np.asarray([p.age for p in cohort.patients if p.key in train_keys and p.age is not None])
    return fit_normalisation(
        windows.spec, var[ok], val[ok], ages.astype(np.float64), len(train_keys)
    )
