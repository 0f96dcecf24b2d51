"""Simulate a cohort and write it as a cohort directory (docs/cohort-format.md)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from model.cohort import (
    EVENT_COLUMNS,
    FILM_COLUMNS,
    MEASUREMENT_COLUMNS,
    ORACLE_COLUMNS,
    PATIENT_COLUMNS,
    write_meta,
)
from model.synth.anatomy import HABITUS
from model.synth.config import SynthConfig, SynthError, SynthSummary
from model.synth.course import ORACLE_HORIZON_H
from model.synth.patient import PatientRows, simulate_patient
from model.synth.render import FilmRenderer

log = logging.getLogger(__name__)

SIMULATOR_VERSION = "2"
EXTRA_COLUMNS = (
    "patient_key", "phenotype", "ehr_ambiguous", "has_injury", "copd", "sepsis",
    "fluid_overload", "dni", "outcome", "ehr_delay_h", "transfer", "decision_style",
    "decision_threshold", "trial_patience_h",
)  # fmt: skip
#: patients.csv: the standard columns plus the documented do-not-intubate pair.
SYNTH_PATIENT_COLUMNS = (*PATIENT_COLUMNS, "do_not_intubate", "do_not_intubate_since")
FILM_TRUTH_COLUMNS = (
    "patient_key", "sop_instance_uid", "consolidation", "edema", "effusion", "tube", "habitus",
)  # fmt: skip
_FILES = {
    "patients": ("patients.csv", SYNTH_PATIENT_COLUMNS),
    "measurements": ("measurements.csv", MEASUREMENT_COLUMNS),
    "films": ("films.csv", FILM_COLUMNS),
    "events": ("events.csv", EVENT_COLUMNS),
    "oracle": ("oracle.csv", ORACLE_COLUMNS),
    "extras": ("extras.csv", EXTRA_COLUMNS),
    "film_truth": ("film_truth.csv", FILM_TRUTH_COLUMNS),
}
_CHUNK = 25


class _Worker:
    """Per-process state of a pool worker: the renderer with its prebuilt anatomy templates."""

    renderer: FilmRenderer | None = None


def _init_worker(renderer: FilmRenderer | None) -> None:
    _Worker.renderer = renderer


def _run_chunk(config: SynthConfig, start: int, stop: int, out: Path) -> list[PatientRows]:
    return [simulate_patient(config, i, _Worker.renderer, out) for i in range(start, stop)]


def _prebuilt_renderer(config: SynthConfig) -> FilmRenderer | None:
    if not config.render_films:
        return None
    renderer = FilmRenderer(config.film_size)
    for geometry in range(3):
        for habitus in HABITUS:
            renderer.anatomy(geometry, habitus)
    return renderer


def _chunks(config: SynthConfig) -> list[tuple[int, int]]:
    return [(s, min(s + _CHUNK, config.patients)) for s in range(0, config.patients, _CHUNK)]


def _results(config: SynthConfig, out: Path) -> Iterator[list[PatientRows]]:
    renderer = _prebuilt_renderer(config)
    chunks = _chunks(config)
    if config.workers == 1:
        _init_worker(renderer)
        for start, stop in chunks:
            yield _run_chunk(config, start, stop, out)
        return
    with ProcessPoolExecutor(
        max_workers=config.workers, initializer=_init_worker, initargs=(renderer,)
    ) as pool:
        futures = [pool.submit(_run_chunk, config, a, b, out) for a, b in chunks]
        for future in futures:  # in submission order: output is independent of scheduling
            yield future.result()


def simulate(
    config: SynthConfig, out: Path, on_progress: Callable[[int, int], None] | None = None
) -> SynthSummary:
    """Simulate ``config.patients`` patients into the cohort directory ``out`` (synthetic data).

    Deterministic: the same config gives byte-identical files whatever ``workers`` is.
    ``on_progress(done, total)`` is called after each chunk of patients.
    """
    if (out / "cohort.json").exists() or (out.exists() and any(out.glob("*.csv"))):
        raise SynthError(f"{out} already holds a cohort; choose an empty directory")
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    phenotypes: Counter[str] = Counter()
    done = 0
    with ExitStack() as stack:
        handles: dict[str, IO[str]] = {}
        for name, (filename, columns) in _FILES.items():
            handle = stack.enter_context((out / filename).open("w", newline="", encoding="utf-8"))
            handle.write(",".join(columns) + "\n")
            handles[name] = handle
        for rows in _results(config, out):
            for row in rows:
                for name in _FILES:
                    handles[name].write(getattr(row, name))
                counts["measurements"] += row.n_measurements
                counts["films"] += row.n_films
                counts["predictions"] += row.n_predictions
                counts["positive"] += row.n_positive
                counts["ventilated"] += int(row.ventilated)
                phenotypes[row.phenotype] += 1
            done += len(rows)
            if on_progress is not None:
                on_progress(done, config.patients)
    summary = SynthSummary(
        patients=config.patients,
        ventilated=counts["ventilated"],
        measurements=counts["measurements"],
        films=counts["films"],
        prediction_times=counts["predictions"],
        positive_windows=counts["positive"],
        phenotypes=dict(sorted(phenotypes.items())),
    )
    write_meta(
        out,
        synthetic=True,
        generator="ventfusion.model.synth",
        simulator_version=SIMULATOR_VERSION,
        seed=config.seed,
        patients=config.patients,
        film_size=config.film_size,
        films_rendered=config.render_films,
        mrn_system=config.mrn_system,
        oracle_horizon_h=ORACLE_HORIZON_H,
        prediction_step_h=1,
        ehr_lag_h=list(config.ehr_lag_h),
        film_interval_h=config.film_interval_h,
        ventilated=summary.ventilated,
        positive_windows=summary.positive_windows,
        prediction_times=summary.prediction_times,
    )
    log.info(
        "simulated %d synthetic patients (%d ventilated, %d films) into %s",
        summary.patients, summary.ventilated, summary.films, out,
    )  # fmt: skip
    return summary
