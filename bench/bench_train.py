"""Benchmark training the default model (all data synthetic).

Runs what ``bench/rebuild_default_model.sh`` runs — the gated model with default settings on a
2,000-patient simulated cohort (seed 0) — writing the checkpoint to a temporary file (or
``--out``), and reports wall time of each phase, CPU time, and the validation AUROC.

    .venv/bin/python bench/bench_train.py [--cohort DIR] [--threads 1] [--arch gated] [--out PT]

Without ``--cohort`` the cohort is simulated first (not timed).
"""

from __future__ import annotations

import argparse
import logging
import resource
import tempfile
import time
from pathlib import Path

import torch

from model.features.spec import FeatureSpec
from model.synth import SynthConfig, simulate
from model.training.loop import EpochRecord, TrainConfig
from model.training.pipeline import train_from_cohort


class _PhaseClock(logging.Handler):
    """Time stamps of the pipeline's log lines, to split the wall time into phases."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.marks.append((time.perf_counter(), record.getMessage()))


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--arch", default="gated")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None, help="keep the checkpoint here")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="vf-bench-train-"))
    cohort = args.cohort
    if cohort is None:
        cohort = tmp / "cohort"
        simulate(SynthConfig(patients=args.patients, seed=0, film_size=128, workers=2), cohort)
    clock = _PhaseClock()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for name in ("model.training.pipeline", "model.training.loop", "model.training.film_pretrain"):
        logging.getLogger(name).addHandler(clock)
    epochs: list[EpochRecord] = []
    torch.set_num_threads(args.threads)
    cpu0, t0 = _cpu_s(), time.perf_counter()
    ckpt = train_from_cohort(
        cohort,
        args.out or tmp / "model.pt",
        spec=FeatureSpec(),
        net_overrides={"arch": args.arch},
        cfg=TrainConfig(seed=0, threads=args.threads),
        on_epoch=epochs.append,
    )
    wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    starts = {
        "windows": next((t for t, m in clock.marks if m.startswith("windows:")), t0),
        "stage1": next((t for t, m in clock.marks if m.startswith("stage 1:")), None),
        "stage1_done": next((t for t, m in clock.marks if m.startswith("stage 1 done")), None),
    }
    print(f"\ntraining {ckpt.model_id} on {cohort} with {args.threads} torch threads (synthetic)\n")
    print("| phase | wall s |\n|---|---|")
    print(f"| read cohort + build windows + normalisation | {starts['windows'] - t0:.1f} |")
    if starts["stage1"] and starts["stage1_done"]:
        print(f"| stage 1: film encoder | {starts['stage1_done'] - starts['stage1']:.1f} |")
    median = sorted(e.seconds for e in epochs)[len(epochs) // 2]
    total2 = sum(e.seconds for e in epochs)
    print(f"| stage 2: {len(epochs)} epochs (median {median:.1f} s) | {total2:.1f} |")
    print(f"| **total** (CPU {cpu:.0f} s) | **{wall:.1f}** |")
    print(
        f"\nbest epoch {ckpt.train_config['best_epoch']}, validation AUROC "
        f"{ckpt.card.metrics['val_auroc']:.4f}, ECE {ckpt.card.metrics['val_ece']:.4f}"
    )


if __name__ == "__main__":
    main()
