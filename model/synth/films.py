"""When chest films are taken and what each one shows (findings + acquisition technique)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.synth.config import DEFAULT_FILM_INTERVAL_H
from model.synth.course import Course
from model.synth.physiology import Physiology

#: Consolidation patterns in the renderer's texture bank (bilateral, right-, left-predominant).
N_PATTERNS = 8
BITS_CHOICES = (12, 14, 15, 16)


@dataclass(frozen=True, slots=True)
class FilmSpec:
    """One film: when, what it shows (latent truth) and how it was acquired."""

    hour: float  # hours after admission
    consolidation: float
    edema: float
    effusion: float
    tube: bool
    habitus: str  # "normal" | "copd" | "cardiomegaly"
    pattern: int
    geometry: int  # 0 square, 1 portrait, 2 landscape
    photometric: str
    bits_stored: int
    gain: float
    offset: float
    noise: float
    shift: tuple[int, int]  # in 1/100 of the image
    seed: int


def _habitus(course: Course) -> str:
    if course.copd:
        return "copd"
    if course.fluid_overload:
        return "cardiomegaly"
    return "normal"


def _times(
    course: Course,
    phys: Physiology,
    rng: np.random.Generator,
    admit_clock: float,
    interval_h: float,
) -> np.ndarray:
    end = course.end_h
    times: list[float] = []
    if rng.random() < 0.85:
        times.append(float(rng.uniform(0.2, 3.0)))
    p_round = float(rng.uniform(0.75, 1.0))  # how reliably this patient gets the routine film
    first = (6.0 - admit_clock) % interval_h
    for round_h in np.arange(first, end, interval_h):
        if round_h > 4.0 and rng.random() < p_round:
            times.append(float(round_h + rng.uniform(-0.7, 0.7)))
    fio2 = phys.values["fio2"]
    last_extra = -99.0
    for h in range(6, course.hours + 1):
        rising = fio2[h] - fio2[h - 6] >= 15.0 and not phys.on_vent[h]
        if rising and h - last_extra >= 12.0 and rng.random() < 0.5:
            times.append(float(h) + float(rng.uniform(0.1, 1.5)))
            last_extra = float(h)
    if course.vent_hour is not None and rng.random() < 0.95:
        times.append(course.vent_hour + float(rng.uniform(0.3, 1.5)))
    arr = np.asarray(sorted(t for t in times if 0.0 < t < end))
    if arr.size:  # two films less than 30 min apart: keep the first
        arr = arr[np.concatenate([[True], np.diff(arr) > 0.5])]
    return arr


def _interp(series: np.ndarray, hour: float) -> float:
    return float(np.interp(hour, np.arange(series.size, dtype=np.float64), series))


def schedule_films(
    course: Course,
    phys: Physiology,
    rng: np.random.Generator,
    admit_clock: float = 0.0,
    interval_h: float = DEFAULT_FILM_INTERVAL_H,
) -> list[FilmSpec]:
    """Films on rounds every ``interval_h`` (roughly daily by default), extra when oxygen needs
    climb, one after intubation; none for some patients."""
    if rng.random() < 0.05:
        return []
    times = _times(course, phys, rng, admit_clock, interval_h)
    habitus = _habitus(course)
    pattern = int(rng.integers(0, N_PATTERNS))
    device = (int(rng.integers(0, 3)), "MONOCHROME1" if rng.random() < 0.35 else "MONOCHROME2",
              int(rng.choice(BITS_CHOICES)))  # fmt: skip
    specs = []
    for hour in times:
        geometry, photometric, bits = device
        if rng.random() < 0.25:  # another portable unit / detector
            geometry = int(rng.integers(0, 3))
            photometric = "MONOCHROME1" if rng.random() < 0.35 else "MONOCHROME2"
            bits = int(rng.choice(BITS_CHOICES))
        specs.append(
            FilmSpec(
                hour=float(hour),
                consolidation=_interp(course.injury, hour),
                edema=_interp(course.edema, hour),
                effusion=_interp(course.effusion, hour),
                tube=course.vent_hour is not None and hour > course.vent_hour,
                habitus=habitus,
                pattern=pattern,
                geometry=geometry,
                photometric=photometric,
                bits_stored=bits,
                gain=float(rng.uniform(0.85, 1.15)),
                offset=float(rng.uniform(-0.04, 0.06)),
                noise=float(rng.uniform(0.008, 0.025)),
                shift=(int(rng.integers(-3, 4)), int(rng.integers(-3, 4))),
                seed=int(rng.integers(0, 2**31 - 1)),
            )
        )
    return specs
