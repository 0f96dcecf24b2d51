"""Benchmark one prediction of the bundled model (all data synthetic).

Scores a realistic 48-hour window (hourly vitals, 4-hourly gases, 8-hourly labs: ~700
measurements) at ``as_of`` with (a) a cached film embedding (the serving fast path), (b) the
preprocessed film pixels (embedding computed on the fly) and (c) no film, and times
``preprocess_film`` of a 2,000 x 2,500 film and ``embed_film``. Drivers (exact Shapley values over
the observed variable groups, 2^k coalitions in one batch) are included except in the row that
says "without drivers", which measures their cost side by side.
Prints medians and p95 in milliseconds as a Markdown table for docs/benchmarks.md.

    .venv/bin/python bench/bench_predict.py [--repeats 300] [--threads 1] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import torch

from model.applicability.film import film_appearance
from model.cohort import read_cohort
from model.features.films import load_display_image
from model.predictor import Predictor
from model.schemas import ChestFilm, Measurement, PatientKey, PatientWindow, StaticInfo
from model.synth import SynthConfig, simulate
from model.transforms import preprocess_film

KEY = PatientKey(system="urn:oid:2.16.840.1.113883.4.1.999.1", value="BENCH-1")
AS_OF = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SCHEDULE = {  # variable: (every h, baseline, drift per h)
    "heart_rate": (1, 92, 0.4),
    "resp_rate": (1, 20, 0.2),
    "spo2": (1, 95, -0.05),
    "sbp": (1, 118, 0),
    "dbp": (1, 64, 0),
    "map": (1, 82, 0),
    "temperature": (4, 37.6, 0.01),
    "fio2": (1, 35, 0.6),
    "o2_flow": (2, 6, 0.1),
    "pao2": (4, 82, -0.3),
    "paco2": (4, 41, 0.05),
    "ph": (4, 7.39, -0.001),
    "lactate": (8, 1.6, 0.02),
    "bicarbonate": (8, 23, 0),
    "gcs_total": (4, 14, 0),
    "wbc": (12, 12.5, 0.05),
    "creatinine": (12, 1.1, 0.005),
}


def _window(film: ChestFilm | None) -> PatientWindow:
    rng = np.random.default_rng(0)
    ms = []
    for var, (every, base, drift) in SCHEDULE.items():
        for h in range(0, 48, every):
            t = AS_OF - timedelta(hours=47 - h, minutes=int(rng.integers(0, 50)))
            value = base + drift * h + rng.normal(0, abs(base) * 0.01)
            ms.append(
                Measurement(
                    patient_key=KEY,
                    variable=var,
                    value=float(value),
                    unit="",
                    time=t,
                    source_id=f"Observation/{var}-{h}",
                )
            )
    return PatientWindow(
        patient_key=KEY,
        as_of=AS_OF,
        measurements=tuple(ms),
        films=(film,) if film else (),
        static=StaticInfo(age_years=64, sex="male"),
    )


def _simulator_film() -> np.ndarray:
    """A display-ready film of the simulator the model was trained on (synthetic)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cohort"
        simulate(SynthConfig(patients=3, seed=5, film_size=256, workers=1), root)
        cohort = read_cohort(root)
        return load_display_image(root, cohort.films[0])


def _time(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    for _ in range(5):
        fn()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def _concurrent(fn: Callable[[], object], callers: int, repeats: int) -> float:
    """Wall ms per call of ``callers`` threads each calling ``fn`` ``repeats`` times at once (what
    a server's compute slots do; the interpreter lock is shared)."""
    for _ in range(5):
        fn()

    def run() -> None:
        for _ in range(repeats):
            fn()

    threads = [threading.Thread(target=run) for _ in range(callers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (time.perf_counter() - started) * 1000 / (callers * repeats)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument(
        "--callers", type=int, default=2, help="threads predicting at once, last row (0: none)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    p = Predictor.load(args.checkpoint)
    raw = np.random.default_rng(1).random((2000, 2500)).astype(np.float32) * 4095
    pixels = preprocess_film(_simulator_film(), p.film_size)  # a film the guard accepts
    emb = p.embed_film(pixels)
    acquired = AS_OF - timedelta(hours=6)
    cached = ChestFilm(
        patient_key=KEY,
        acquired_at=acquired,
        sop_instance_uid="2.25.1",
        embedding=emb,
        embedding_model=p.embedding_id,
        appearance=film_appearance(pixels, p.film_size),
    )
    with_pixels = ChestFilm(
        patient_key=KEY, acquired_at=acquired, sop_instance_uid="2.25.2", pixels=pixels
    )
    w_cached, w_pixels, w_none = _window(cached), _window(with_pixels), _window(None)
    rows = [
        ("predict, cached film embedding", lambda: p.predict(w_cached)),
        ("predict, film pixels (embedding on the fly)", lambda: p.predict(w_pixels)),
        ("predict, no film", lambda: p.predict(w_none)),
        (
            "predict, no film, without drivers (one EHR row)",
            lambda: p.predict(w_none, explain=False),
        ),
        ("embed_film (1 x 64 x 64)", lambda: p.embed_film(pixels)),
        ("preprocess_film (2000 x 2500 float32)", lambda: preprocess_film(raw, p.film_size)),
    ]
    n_meas = len(w_cached.measurements)
    probe = p.predict(w_cached)
    if probe.film_not_used is not None:
        raise SystemExit(f"the model refuses the bench film: {probe.film_not_used}")
    groups = len(probe.drivers)
    print(
        f"model {p.model_id} {p.model_version}; window of {n_meas} measurements; drivers over "
        f"{groups} variable groups ({2**groups} coalitions per prediction); torch threads "
        f"{args.threads}; {args.repeats} repeats (synthetic)\n"
    )
    print("| operation | median ms | p95 ms |\n|---|---|---|")
    for name, fn in rows:
        reps = args.repeats if "2000" not in name else max(args.repeats // 10, 10)
        med, p95 = _time(fn, reps)
        print(f"| {name} | {med:.2f} | {p95:.2f} |")
    if args.callers > 0:
        wall = _concurrent(lambda: p.predict(w_none), args.callers, args.repeats)
        name = f"predict, no film, {args.callers} threads at once: wall ms per call"
        print(f"| {name} | {wall:.2f} | – |")


if __name__ == "__main__":
    main()
