"""Film backbone benchmark: embeddings per second, and C-STORE -> updated risk with the backbone on.

    .venv/bin/python bench/bench_backbone.py [--size 224] [--dim 1024] [--batch 16] \
        [--threads 1 2] [--repeats 5] [--latency-runs 7] [--part all|throughput|latency]

1. Throughput: a DenseNet121-sized backbone (MONAI DenseNet121, 1 channel, seeded random
   weights, ``--size`` px, ``--dim``-d output) exported to ONNX and TorchScript as in
   docs/model.md, loaded through ``model.backbone`` (sha256 checked), and timed on preprocessed
   simulator films: embeddings/s at batch 1 and at ``--batch``, per runtime and thread count
   (medians of ``--repeats``; the backbone's own normalisation included, the shared film
   preprocessing not).
2. Latency: a small synthetic cohort embedded by the ONNX backbone (``embed-films``), a gated
   embedding model trained on it for one epoch, then the app's own composition (SQLite, that
   checkpoint + the backbone via the settings, film sink with rescoring) behind the DICOM
   listener; time from the start of a C-STORE of a simulator film to the acknowledgement and to
   an updated prediction that uses (or names) the film.

Weights are random: throughput does not depend on them, and the latency part measures the
plumbing, not the model's quality. Everything is synthetic.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout: the tests' backbone builders

from tests.support.backbones import (  # noqa: E402
    densenet,
    export_onnx,
    export_torchscript,
    manifest_for,
)


def build(folder: Path, size: int, dim: int) -> dict[str, Path]:
    """Export the benchmark backbone to ONNX and TorchScript; manifests by runtime."""
    net = densenet(0, size=size, dim=dim)
    export_onnx(net, folder / "bench-densenet121.onnx", size)
    export_torchscript(net, folder / "bench-densenet121.pt", size)
    return {
        runtime: manifest_for(folder / name, "bench-densenet121", "1", size=size, dim=dim)
        for runtime, name in (("onnx", "bench-densenet121.onnx"),
                              ("torchscript", "bench-densenet121.pt"))
    }  # fmt: skip


def films(count: int, size: int) -> np.ndarray:
    """Preprocessed simulator films ``(count, 1, size, size)``."""
    from model.transforms import preprocess_film
    from tests.support.synthetic_films import simulator_display

    return np.stack(
        [preprocess_film(simulator_display(256, seed=i, consolidation=0.1 * (i % 5)), size)
         for i in range(count)]
    )  # fmt: skip


def _median_rate(call: Callable[[], object], n_films: int, repeats: int) -> float:
    call()  # warm-up (allocations, first-run kernels)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return n_films / statistics.median(seconds)


def throughput(args: argparse.Namespace) -> None:
    """Part 1: embeddings/s per runtime, threads and batch size (Markdown rows)."""
    import torch

    from model.backbone.runtime import Backbone

    with tempfile.TemporaryDirectory(prefix="bench-backbone-") as tmp:
        manifests = build(Path(tmp), args.size, args.dim)
        batch = films(args.batch, args.size)
        print(f"| runtime | threads | batch 1, films/s | batch {args.batch}, films/s |")
        print("|---|---|---|---|")
        for threads in args.threads:
            torch.set_num_threads(threads)
            for runtime, manifest in manifests.items():
                backbone = Backbone.load(manifest, threads=threads)
                one = _median_rate(lambda b=backbone: b.embed(batch[:1]), 1, args.repeats)
                many = _median_rate(
                    lambda b=backbone: b.embed(batch, batch_size=args.batch),
                    args.batch,
                    args.repeats,
                )
                print(f"| {runtime} | {threads} | {one:.1f} | {many:.1f} |", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--latency-runs", type=int, default=7)
    parser.add_argument("--patients", type=int, default=24, help="of the latency part's cohort")
    parser.add_argument("--part", choices=["all", "throughput", "latency"], default="all")
    args = parser.parse_args(argv)
    if args.part in ("all", "throughput"):
        throughput(args)
    if args.part in ("all", "latency"):
        from bench_backbone_latency import latency  # bench/, beside this script

        latency(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
