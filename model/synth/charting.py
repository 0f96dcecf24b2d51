"""Turn true hourly physiology into charted measurements: irregular times, missing values,
measurement noise, artifacts and rounding, the way ICU flowsheets look."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.synth.course import Course
from model.synth.physiology import Physiology
from model.variables import BY_NAME, VARIABLE_NAMES

VAR_INDEX = {name: i for i, name in enumerate(VARIABLE_NAMES)}

#: (additive sd, multiplicative sd, rounding step) of charting noise per variable.
_NOISE: dict[str, tuple[float, float, float]] = {
    "heart_rate": (3.0, 0.0, 1.0),
    "resp_rate": (1.8, 0.0, 1.0),
    "spo2": (1.1, 0.0, 1.0),
    "temperature": (0.15, 0.0, 0.1),
    "sbp": (6.0, 0.0, 1.0),
    "dbp": (4.0, 0.0, 1.0),
    "map": (4.0, 0.0, 1.0),
    "fio2": (0.0, 0.0, 1.0),
    "o2_flow": (0.0, 0.0, 0.5),
    "pao2": (0.0, 0.07, 1.0),
    "paco2": (1.5, 0.0, 1.0),
    "ph": (0.012, 0.0, 0.01),
    "lactate": (0.0, 0.08, 0.1),
    "bicarbonate": (1.0, 0.0, 1.0),
    "gcs_total": (0.4, 0.0, 1.0),
    "wbc": (0.0, 0.07, 0.1),
    "creatinine": (0.0, 0.05, 0.01),
}

#: Share of patients charted sparsely for their first hours (transfers more often), how long,
#: and the chance that an hour's vital signs are charted meanwhile.
SPARSE_START_SHARE = 0.2
SPARSE_START_SHARE_TRANSFER = 0.5
SPARSE_START_H = (2.0, 6.0)
SPARSE_VITAL_P = 0.3

#: Artifacts: (probability per reading, low, high) replacing the value (probe off, motion...).
_ARTIFACTS: dict[str, tuple[float, float, float]] = {
    "spo2": (0.012, 55.0, 82.0),
    "heart_rate": (0.004, 150.0, 190.0),
    "resp_rate": (0.01, 30.0, 44.0),
    "temperature": (0.005, 34.0, 35.3),
    "sbp": (0.004, 190.0, 240.0),
}


@dataclass(frozen=True, slots=True)
class Charted:
    """Measurements of one patient, column-wise: seconds after admission, variable, value."""

    seconds: np.ndarray  # int64
    variable: np.ndarray  # int64 index into VARIABLE_NAMES
    value: np.ndarray  # float64, canonical unit, rounded


def _jittered(hours: np.ndarray, rng: np.random.Generator, end: float) -> np.ndarray:
    t = hours + rng.uniform(-0.45, 0.45, hours.size)
    return np.clip(t, 0.02, end - 0.01)


def _schedules(
    course: Course, phys: Physiology, rng: np.random.Generator, admit_clock: float
) -> list[tuple[tuple[str, ...], np.ndarray]]:
    end = course.end_h
    hours = np.arange(0, course.hours + 1, dtype=np.float64)
    sick = np.clip(course.ehr_injury + course.shock, 0.0, 1.0)
    p_vital = float(rng.uniform(0.7, 0.97))
    groups: list[tuple[tuple[str, ...], np.ndarray]] = []
    # The admitting nurse charts one full set (vitals, pressure, oxygen) within 30 min of arrival;
    # then some patients are charted sparsely for their first hours (busy admission, transfer).
    arrival = np.asarray([min(float(rng.uniform(0.05, 0.5)), end - 0.01)])
    sparse_share = SPARSE_START_SHARE_TRANSFER if course.transfer else SPARSE_START_SHARE
    sparse_h = float(rng.uniform(*SPARSE_START_H)) if rng.random() < sparse_share else 0.0
    p_hour = np.where(hours < sparse_h, SPARSE_VITAL_P, p_vital)

    keep = (rng.random(hours.size) < p_hour) & (hours > 0)
    extra = (rng.random(hours.size) < 0.35 * sick) & (hours >= sparse_h)
    vital_t = np.concatenate(
        [arrival, _jittered(hours[keep], rng, end), _jittered(hours[extra], rng, end)]
    )
    groups.append((("heart_rate", "spo2"), vital_t))
    rr_keep = rng.random(vital_t.size) < 0.9
    rr_keep[0] = True
    groups.append((("resp_rate",), vital_t[rr_keep]))
    bp_keep = (rng.random(hours.size) < p_hour * 0.95) & (hours > 0)
    groups.append(
        (("sbp", "dbp", "map"), np.concatenate([arrival, _jittered(hours[bp_keep], rng, end)]))
    )

    phase = int(rng.integers(0, 4))
    q4 = hours[(hours.astype(np.int64) % 4) == phase]
    groups.append((("temperature",), _jittered(q4[rng.random(q4.size) < 0.85], rng, end)))
    gcs_every = hours[(hours.astype(np.int64) % 2) == 0]
    gcs_p = np.where(sick[gcs_every.astype(np.int64)] > 0.3, 0.8, 0.3)
    groups.append(
        (("gcs_total",), _jittered(gcs_every[rng.random(gcs_every.size) < gcs_p], rng, end))
    )

    fio2 = phys.values["fio2"]
    changed = np.flatnonzero(np.diff(fio2) != 0) + 1
    routine = hours[(hours.astype(np.int64) % 4) == (phase + 1) % 4]
    charted_changes = changed[rng.random(changed.size) < 0.92].astype(np.float64)
    o2_t = np.unique(np.concatenate([charted_changes, routine[rng.random(routine.size) < 0.7]]))
    o2_t = np.clip(o2_t + rng.uniform(0.0, 0.3, o2_t.size), 0.02, end - 0.01)
    o2_t = np.unique(np.concatenate([arrival, o2_t]))
    groups.append((("fio2",), o2_t))
    on_flow = phys.values["o2_flow"][np.minimum(np.round(o2_t).astype(np.int64), course.hours)] > 0
    groups.append((("o2_flow",), o2_t[on_flow | (rng.random(o2_t.size) < 0.2)]))

    gas_t: list[float] = []
    lac_t: list[float] = []
    now = float(rng.uniform(0.3, 3.0)) if (rng.random() < 0.7 or sick[0] > 0.2) else 6.0
    while now < end:
        gas_t.append(now)
        if course.sepsis or rng.random() < 0.35:
            lac_t.append(now)
        level = fio2[min(round(now), course.hours)]
        gap = 12.0 if level < 40 else (6.0 if level < 60 else 4.0)
        now += gap * float(rng.uniform(0.75, 1.4))
    groups.append((("pao2", "paco2", "ph", "bicarbonate"), np.asarray(gas_t)))
    groups.append((("lactate",), np.asarray(lac_t)))

    morning = (5.0 - admit_clock) % 24.0
    labs = np.concatenate([[float(rng.uniform(0.2, 2.0))], np.arange(morning, end, 24.0)])
    labs = _jittered(labs[labs < end], rng, end)
    groups.append((("wbc", "creatinine"), labs))
    return groups


def chart(
    course: Course, phys: Physiology, rng: np.random.Generator, admit_clock: float = 0.0
) -> Charted:
    """Sample, corrupt and round every variable; returns rows sorted by time then variable.

    ``admit_clock`` is the admission hour of day, so morning labs fall near 05:00.
    """
    seconds: list[np.ndarray] = []
    variables: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for names, times in _schedules(course, phys, rng, admit_clock):
        if times.size == 0:
            continue
        idx = np.minimum(np.round(times).astype(np.int64), course.hours)
        for name in names:
            true = phys.values[name][idx]
            add, mult, step = _NOISE[name]
            noise = add * rng.standard_normal(true.size)
            noisy = true * (1.0 + mult * rng.standard_normal(true.size)) + noise
            if name in _ARTIFACTS:
                p, lo, hi = _ARTIFACTS[name]
                hit = rng.random(true.size) < p
                noisy = np.where(hit, rng.uniform(lo, hi, true.size), noisy)
            var = BY_NAME[name]
            noisy = np.clip(np.round(noisy / step) * step, var.plausible_min, var.plausible_max)
            if name in ("spo2", "fio2"):
                noisy = np.minimum(noisy, 100.0)
            seconds.append(np.round(times * 3600.0).astype(np.int64))
            variables.append(np.full(times.size, VAR_INDEX[name], dtype=np.int64))
            values.append(noisy)
    s = np.concatenate(seconds)
    v = np.concatenate(variables)
    x = np.concatenate(values)
    order = np.lexsort((v, s))
    return Charted(seconds=s[order], variable=v[order], value=x[order])
