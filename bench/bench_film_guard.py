"""How the applicability guard of a checkpoint treats the simulator's films and real films.

Simulates held-out cohorts (seed 1) with films rendered at several matrix sizes and reports the
share of their films the guard refuses (the false-rejection rate away from the training
resolution), then scores the real images of pydicom-data (RG1 chest CR, RG3 extremity CR, a CT
slice, an MR) decoded as the DICOM listener decodes them. Figures on simulated films are
**synthetic**. Prints Markdown tables for docs/model.md.

    .venv/bin/python bench/bench_film_guard.py [--checkpoint PATH] [--patients 120]
        [--sizes 128 256 512] [--work /tmp/ventfusion-guard]
"""

from __future__ import annotations

import argparse
import importlib.resources
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import torch

from dicom_listener.convert import read_film
from model.applicability.film import FilmGuard, FilmVerdict, appearance_features
from model.cohort import read_cohort
from model.features.films import load_films
from model.predictor import Predictor
from model.synth import SynthConfig, simulate
from model.transforms import preprocess_film

REAL = ("RG1_UNCR.dcm", "RG1_J2KI.dcm", "RG3_UNCR.dcm", "693_UNCR.dcm", "MR2_UNCR.dcm")


def _verdicts(p: Predictor, guard: FilmGuard, pixels: np.ndarray) -> list[FilmVerdict]:
    """The guard's verdict on preprocessed films ``(N, 1, S, S)``."""
    appearance = appearance_features(pixels)
    return [
        guard.assess(np.asarray(p.embed_film(film)), features)
        for film, features in zip(pixels, appearance, strict=True)
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--patients", type=int, default=120)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--work", type=Path, default=Path("/tmp/ventfusion-guard"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    p = Predictor.load(args.checkpoint)
    stats = p.checkpoint.applicability
    if stats is None or stats.film is None:
        raise SystemExit("the checkpoint carries no film guard (ventfusion attach-applicability)")
    guard = stats.film
    print(f"model {p.model_id} {p.model_version}; threshold {guard.threshold:.3f} at a "
          f"{guard.false_rejection_rate:.1%} false-rejection rate on {guard.calibrated_on} "
          f"({guard.fitted_on})\n")  # fmt: skip
    print("| simulator films (synthetic, seed 1) | films | refused | median score / threshold |")
    print("|---|---|---|---|")
    for size in args.sizes:
        root = args.work / f"seed1-{args.patients}-{size}px"
        if not (root / "cohort.json").exists():
            simulate(SynthConfig(patients=args.patients, seed=1, film_size=size, workers=2), root)
        films = load_films(read_cohort(root), p.film_size).data
        ratio = np.asarray([v.ratio for v in _verdicts(p, guard, films)])
        print(f"| rendered at {size} px | {len(ratio)} | {np.mean(ratio > 1):.1%} | "
              f"{np.median(ratio):.2f} |")  # fmt: skip
    print("\n| real image (pydicom-data) | score / threshold | groups outside |\n|---|---|---|")
    folder = Path(str(importlib.resources.files("data_store") / "data"))
    for name in REAL:
        try:
            image = read_film(folder / name, ZoneInfo("UTC")).display_image()
        except Exception as exc:  # a decoder missing here: say so, keep going
            print(f"| {name} | not decoded ({type(exc).__name__}) | |")
            continue
        (verdict,) = _verdicts(p, guard, preprocess_film(image, p.film_size)[None])
        print(f"| {name} | {verdict.ratio:.2f} | {', '.join(verdict.outside) or '-'} |")


if __name__ == "__main__":
    main()
