"""Benchmark the synthetic ICU simulator (all data synthetic).

Times ``model.synth.simulate`` for a cohort with rendered films (default: 2,000 patients at
512 px on 2 worker processes), then ``read_cohort`` on the result, and prints a Markdown table for
docs/benchmarks.md. A single-process run on fewer patients gives the per-patient cost side by side.

    .venv/bin/python bench/bench_synth.py [--patients 2000] [--film-size 512] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from model.cohort import read_cohort
from model.synth import SynthConfig, simulate
from model.synth.films import FilmSpec
from model.synth.png import encode_png16
from model.synth.render import FilmRenderer


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


def film_costs(size: int, repeat: int = 15) -> dict[str, float]:
    """Median milliseconds to render one film and to encode it (ours vs Pillow's PNG encoder)."""
    renderer = FilmRenderer(size)
    spec = FilmSpec(
        hour=1.0, consolidation=0.5, edema=0.1, effusion=0.2, tube=False, habitus="normal",
        pattern=1, geometry=1, photometric="MONOCHROME1", bits_stored=14, gain=1.0, offset=0.0,
        noise=0.015, shift=(1, 1), seed=1,
    )  # fmt: skip
    renderer.render(spec)  # build the template outside the timing

    def median_ms(action: object) -> float:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            action()  # type: ignore[operator]
            times.append((time.perf_counter() - start) * 1000.0)
        return statistics.median(times)

    pixels = renderer.render(spec)
    return {
        "render_ms": median_ms(lambda: renderer.render(spec)),
        "png_ours_ms": median_ms(lambda: encode_png16(pixels)),
        "png_pillow_ms": median_ms(
            lambda: Image.fromarray(pixels).save(io.BytesIO(), format="PNG", compress_level=1)
        ),
    }


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
    costs = film_costs(args.film_size)
    print(
        f"one {args.film_size}-px film (median of 15): render {costs['render_ms']:.1f} ms, "
        f"PNG ours {costs['png_ours_ms']:.1f} ms vs Pillow {costs['png_pillow_ms']:.1f} ms "
        f"({costs['png_pillow_ms'] / costs['png_ours_ms']:.1f}x)"
    )
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
