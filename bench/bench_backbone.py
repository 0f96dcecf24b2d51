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


def _site_model(work: Path, manifest: Path, patients: int) -> tuple[Path, Path, list[str]]:
    """Simulate a cohort, embed it with the backbone, train a gated embedding model on it;
    returns the checkpoint, a DICOM film like its training films, and report rows."""
    from model.backbone.cohort import embed_cohort
    from model.backbone.runtime import Backbone
    from model.checkpoint import load_checkpoint
    from model.features.spec import FeatureSpec
    from model.synth import SynthConfig, simulate
    from model.training.loop import TrainConfig
    from model.training.pipeline import train_from_cohort
    from tests.dicom_listener.films import make_film
    from tests.support.backbones import stored_values, typical_training_film

    simulate(SynthConfig(patients=patients, seed=0, film_size=256), work / "cohort")
    started = time.perf_counter()
    report = embed_cohort(work / "cohort", Backbone.load(manifest), work / "embedded")
    seconds = time.perf_counter() - started
    rows = [f"| embed-films, {report.films} simulator films (256 px PNG, decode + preprocessing "
            f"included), batch 16 | {report.films / seconds:.1f} films/s |"]  # fmt: skip
    ckpt = work / "site-model.pt"
    train_from_cohort(
        work / "embedded",
        ckpt,
        spec=FeatureSpec(),
        net_overrides={"hidden": 32},
        cfg=TrainConfig(epochs=1, windows_per_epoch=2000, val_fraction=0.3),
    )
    guard = load_checkpoint(ckpt).applicability
    assert guard is not None
    assert guard.film is not None
    _, image = typical_training_film(work / "embedded", guard.film)
    stored = stored_values(image)
    film = make_film(work / "template.dcm", pixels=stored, tz_offset="+0000")
    backbone = Backbone.load(manifest)
    ratio = guard.film.assess(backbone.embed(backbone.prepare(stored)[None])[0], None).ratio
    rows.append(f"| film sent: guard score / threshold (<= 1: used) | {ratio:.2f} |")
    return ckpt, film, rows


def latency(args: argparse.Namespace) -> None:
    """Part 2: C-STORE -> acknowledgement and -> updated prediction, backbone on."""
    import asyncio

    import torch
    from bench_dicom_ingest import measure_latency  # bench/, beside this script

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-backbone-latency-") as tmp:
        work = Path(tmp)
        manifest = build(work, args.size, args.dim)["onnx"]
        ckpt, film, rows = _site_model(work, manifest, args.patients)
        settings = {"checkpoint": str(ckpt), "backbone": str(manifest), "torch_threads": 1}
        acks, updates = asyncio.run(
            measure_latency(args.latency_runs, template=film, model=settings)
        )
    print()
    print(f"| {args.size}-px {args.dim}-d DenseNet121 backbone (ONNX, 1 thread) | value |")
    print("|---|---|")
    for row in rows:
        print(row)
    for label, values in (("C-STORE -> 0x0000", acks), ("C-STORE -> updated prediction", updates)):
        print(f"| {label}, median (max) of {len(values)} | {1000 * statistics.median(values):.0f} "
              f"({1000 * max(values):.0f}) ms |")  # fmt: skip


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
        latency(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
