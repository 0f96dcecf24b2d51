"""Simulate one patient end to end and format its cohort rows (CSV text, no header)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from model.synth.charting import chart
from model.synth.config import Phenotype, SynthConfig
from model.synth.course import Course, oracle_probabilities, prediction_hours, simulate_course
from model.synth.films import FilmSpec, schedule_films
from model.synth.physiology import simulate_physiology
from model.synth.png import write_png16
from model.synth.render import FilmRenderer
from model.variables import BY_NAME, VARIABLE_NAMES

_EPOCH = np.datetime64("1970-01-01T00:00:00", "s")
_DECIMALS = tuple(BY_NAME[name].decimals for name in VARIABLE_NAMES)


@dataclass(frozen=True, slots=True)
class PatientRows:
    """One patient's contribution to each cohort file, already formatted."""

    patients: str
    measurements: str
    films: str
    events: str
    oracle: str
    extras: str
    film_truth: str
    n_measurements: int
    n_films: int
    n_predictions: int
    n_positive: int
    ventilated: bool
    phenotype: str


def mrn_for(seed: int, index: int) -> str:
    """The synthetic medical record number of patient ``index``."""
    return f"SYN{seed}-{index + 1:06d}"


def uid_for(seed: int, index: int, kind: str, number: int) -> str:
    """A deterministic DICOM UID in the UUID-derived ``2.25`` root (PS3.5 B.2)."""
    digest = hashlib.sha256(f"ventfusion-synth:{seed}:{index}:{kind}:{number}".encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def _iso(seconds: np.ndarray) -> np.ndarray:
    stamps = _EPOCH + seconds.astype("timedelta64[s]")
    return np.char.add(np.datetime_as_string(stamps, unit="s"), "+00:00")


def _fmt_time(value: datetime) -> str:
    return value.isoformat()


def _outcome(course: Course) -> str:
    if course.vent_hour is not None:
        return "ventilated"
    return "died" if course.death_hour is not None else "discharged"


def simulate_patient(
    config: SynthConfig, index: int, renderer: FilmRenderer | None, out: Path
) -> PatientRows:
    """Simulate patient ``index`` (deterministic in (seed, index)); writes its films under out."""
    streams = [
        np.random.default_rng(s) for s in np.random.SeedSequence([config.seed, index]).spawn(5)
    ]
    admin, course_rng, phys_rng, chart_rng, film_rng = streams
    course = simulate_course(course_rng, config.ehr_lag_h)
    day = int(admin.integers(0, 365))
    minute = int(admin.integers(0, 24 * 60))
    start = datetime(config.start_year, 1, 1, tzinfo=UTC) + timedelta(days=day, minutes=minute)
    admit_clock = minute / 60.0
    phys = simulate_physiology(course, phys_rng)
    charted = chart(course, phys, chart_rng, admit_clock)
    films = schedule_films(course, phys, film_rng, admit_clock, config.film_interval_h)
    key = f"{config.mrn_system}|{mrn_for(config.seed, index)}"
    start_s = int(start.timestamp())
    end = start + timedelta(seconds=round(course.end_h * 3600.0))

    names = np.asarray(VARIABLE_NAMES)[charted.variable]
    times = _iso(start_s + charted.seconds)
    values = [
        f"{v:.{_DECIMALS[i]}f}"
        for i, v in zip(charted.variable.tolist(), charted.value.tolist(), strict=True)
    ]
    measurement_text = "".join(
        f"{key},{t},{n},{v}\n"
        for t, n, v in zip(times.tolist(), names.tolist(), values, strict=True)
    )

    film_lines: list[str] = []
    truth_lines: list[str] = []
    for k, spec in enumerate(films):
        sop = uid_for(config.seed, index, "sop", k)
        study = uid_for(config.seed, index, "study", k)
        series = uid_for(config.seed, index, "series", k)
        rel = f"films/{index + 1:06d}/{k:02d}.png"
        if renderer is not None:
            write_png16(out / rel, renderer.render(spec))
        when = _fmt_time(start + timedelta(seconds=round(spec.hour * 3600.0)))
        film_lines.append(
            f"{key},{when},{rel},{sop},AP,{spec.photometric},{spec.bits_stored},{study},{series}\n"
        )
        truth_lines.append(_truth_line(key, sop, spec))

    hours = prediction_hours(course)
    oracle = oracle_probabilities(course, hours)
    oracle_times = _iso(start_s + hours * 3600)
    oracle_text = "".join(
        f"{key},{t},{p:.6f}\n" for t, p in zip(oracle_times.tolist(), oracle.tolist(), strict=True)
    )
    events = ""
    positive = 0
    if course.vent_hour is not None:
        vent = start + timedelta(seconds=round(course.vent_hour * 3600.0))
        events = f"{key},{_fmt_time(vent)}\n"
        positive = int(np.sum(hours + 24 >= course.vent_hour))
    ambiguous = int(course.copd or course.sepsis or course.fluid_overload)
    extras = (
        f"{key},{course.phenotype.value},{ambiguous},{int(course.has_injury)},{int(course.copd)},"
        f"{int(course.sepsis)},{int(course.fluid_overload)},{int(course.dni)},{_outcome(course)},"
        f"{course.delay_h:.1f},{int(course.transfer)},"
        f"{'trial' if course.style.trial else 'fast'},{course.style.threshold:.3f},"
        f"{course.style.patience_h:.1f}\n"
    )
    dni_since = ""
    if course.dni_since_h is not None:
        dni_since = _fmt_time(start + timedelta(seconds=round(course.dni_since_h * 3600.0)))
    return PatientRows(
        patients=(
            f"{key},{course.age:.0f},{course.sex},{_fmt_time(start)},{_fmt_time(end)},"
            f"{int(course.dni)},{dni_since}\n"
        ),
        measurements=measurement_text,
        films="".join(film_lines),
        events=events,
        oracle=oracle_text,
        extras=extras,
        film_truth="".join(truth_lines),
        n_measurements=int(charted.value.size),
        n_films=len(films),
        n_predictions=int(hours.size),
        n_positive=positive,
        ventilated=course.vent_hour is not None,
        phenotype=course.phenotype.value
        if isinstance(course.phenotype, Phenotype)
        else str(course.phenotype),
    )


def _truth_line(key: str, sop: str, spec: FilmSpec) -> str:
    return (
        f"{key},{sop},{spec.consolidation:.4f},{spec.edema:.4f},{spec.effusion:.4f},"
        f"{int(spec.tube)},{spec.habitus}\n"
    )
