"""Benchmark the synthetic ICU simulator (all data synthetic).

Times ``model.synth.simulate`` for a cohort with rendered films (default: 2,000 patients at
512 px on 2 worker processes), then ``read_cohort`` on the result, and prints a Markdown table for
docs/benchmarks.md. A single-process run on fewer patients gives the per-patient cost side by side.

    .venv/bin/python bench/bench_synth.py [--patients 2000] [--film-size 512] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from model.cohort import read_cohort
from model.synth import SynthConfig, simulate


def _dir_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(patients: int, film_size: int, workers: int, keep: Path | None) -> dict[str, float]:
    """One timed simulation + read; returns figures."""
    base = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    out = keep or base / "cohort"
    try:
        start, cpu = time.perf_counter(), _cpu_s()
        summary = simulate(
            SynthConfig(patients=patients, seed=0, film_size=film_size, workers=workers), out
        )
        simulate_s = time.perf_counter() - start
        cpu_s = _cpu_s() - cpu
        start = time.perf_counter()
        cohort = read_cohort(out)
        read_s = time.perf_counter() - start
        return {
            "patients": patients,
            "workers": workers,
            "simulate_s": simulate_s,
            "cpu_s": cpu_s,
            "read_s": read_s,
            "films": summary.films,
            "measurements": len(cohort.m_key),
            "ventilated_pct": 100 * summary.ventilated_fraction,
            "positive_pct": 100 * summary.positive_window_fraction,
            "size_mb": _dir_size(out) / 1e6,
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--film-size", type=int, default=512)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--single-patients", type=int, default=200, help="patients of the 1-process run"
    )
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"# load average before: {os.getloadavg()[0]:.1f}")
    single = run(args.single_patients, args.film_size, 1, None)
    runs = [run(args.patients, args.film_size, args.workers, None) for _ in range(args.repeat)]
    main_s = statistics.median(r["simulate_s"] for r in runs)
    r = runs[0]
    print(f"# load average after: {os.getloadavg()[0]:.1f}")
    print(
        "| run | patients | films | measurements | simulate wall (s) | CPU (s) | patients/s "
        "| read_cohort (s) | size (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, row, secs in (
        (f"{args.workers} workers", r, main_s),
        ("1 process", single, single["simulate_s"]),
    ):
        print(
            f"| {label} | {row['patients']:,.0f} | {row['films']:,.0f} | "
            f"{row['measurements']:,.0f} | {secs:.1f} | {row['cpu_s']:.1f} | "
            f"{row['patients'] / secs:.1f} | {row['read_s']:.2f} | {row['size_mb']:,.0f} |"
        )
    print(
        f"\nventilated {r['ventilated_pct']:.1f}% of stays, positive hourly windows "
        f"{r['positive_pct']:.1f}% (synthetic)"
    )


if __name__ == "__main__":
    main()
