"""DICOM ingest benchmark: our listener vs pynetdicom's own storescp app, same files, same sender.

    .venv/bin/python bench/bench_dicom_ingest.py [--big 30] [--small 200] [--repeats 3]
        [--baseline TREE]

1. Ingest: DCMTK ``storescu +sd`` (TCP_NODELAY=1, one association) sends a folder to
   (a) ``python -m pynetdicom storescp -od DIR`` and (b) ``python -m dicom_listener`` (header
   checks, durable spool, processing threads with their decoder processes, pixels-only
   processor). Each receiver is restarted on an empty directory per repeat and first receives
   one warm-up film (ours: until it is processed, so its decoder process is up), untimed.
   Reports images/s and MB/s (medians), and for ours the time until every film was also
   processed. ``--baseline TREE`` adds (c): the listener of another checkout of this repository
   (e.g. ``git worktree add /tmp/before <commit>``), run in turn with the two others, so a change
   is measured against its parent in the same run.
2. Latency: in process, the app's own composition (SQLite, bundled model, film sink with
   rescoring) behind the listener; time from the start of a C-STORE to the acknowledgement and
   to an updated prediction that uses the film.

Films: copies of RG1 (real CR chest PA, 1955x1841, 8.4 MB) from pydicom-data with new UIDs, and
small films cut from it (every 4th pixel, ~0.45 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.resources
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydicom import dcmread
from pydicom.uid import generate_uid
from pynetdicom import AE

ROOT = Path(__file__).resolve().parents[1]
AET = "BENCHSCP"
#: Current vital signs of the film's patient: without them the app shows no risk at all.
VITALS = (("heart_rate", 96.0, "/min"), ("resp_rate", 24.0, "/min"), ("spo2", 93.0, "%"))
VERIFICATION = "1.2.840.10008.1.1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rg1() -> Path:
    return Path(str(importlib.resources.files("data_store") / "data" / "RG1_UNCR.dcm"))


def make_films(folder: Path, count: int, *, small: bool) -> int:
    """Write ``count`` RG1-derived films with fresh UIDs; return the total bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    ds = dcmread(_rg1())
    if small:
        pixels = ds.pixel_array[::4, ::4].copy()
        ds.Rows, ds.Columns = pixels.shape
        ds.PixelData = pixels.tobytes()
    total = 0
    for index in range(count):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        path = folder / f"{index:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        total += path.stat().st_size
    return total


def _echo_ok(port: int) -> bool:
    ae = AE(ae_title="BENCH")
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", port, ae_title=AET)
    if not assoc.is_established:
        return False
    assoc.release()
    return True


def _wait_ready(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 90
    while not _echo_ok(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("receiver did not start")
        time.sleep(0.2)


def _receiver(
    kind: str, work: Path, port: int, nice: int, baseline: Path | None
) -> subprocess.Popen[bytes]:
    cwd = baseline if kind == "baseline" and baseline is not None else ROOT
    if kind == "storescp":
        command = [sys.executable, "-m", "pynetdicom", "storescp", "-aet", AET, "-pdu", "131072",
                   "-od", str(work / "out"), str(port)]  # fmt: skip
    else:
        command = [sys.executable, "-m", "dicom_listener", "--ae-title", AET, "--port", str(port),
                   "--spool", str(work / "spool"), "--out", str(work / "out"), "--model", "none",
                   "--log-level", "WARNING", "--worker-nice", str(nice)]  # fmt: skip
    # ``python -m`` imports the package from the working directory first: the baseline's own
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _finished(work: Path) -> int:
    done, rejected = work / "spool" / "done", work / "spool" / "rejected"
    return len(list(done.iterdir())) + len(list(rejected.glob("*.reason")))


def _warm_up(kind: str, work: Path, port: int, env: dict[str, str]) -> None:
    """One film first, untimed: our decoder process (forkserver, torch import) is then up."""
    warm = work / "warm"
    make_films(warm, 1, small=True)
    subprocess.run(
        ["storescu", "-aet", "BENCH", "-aec", AET, "127.0.0.1", str(port), str(warm / "0000.dcm")],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while kind != "storescp" and _finished(work) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)


def ingest_once(
    kind: str, films: Path, count: int, nice: int, baseline: Path | None = None
) -> tuple[float, float | None]:
    """Seconds for storescu to send the folder; for ours also seconds until all processed."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
        work, port = Path(tmp), _free_port()
        process = _receiver(kind, work, port, nice, baseline)
        try:
            _wait_ready(process, port)
            env = {**os.environ, "TCP_NODELAY": "1"}
            _warm_up(kind, work, port, env)
            started = time.perf_counter()
            subprocess.run(
                ["storescu", "-aet", "BENCH", "-aec", AET, "+sd", "127.0.0.1", str(port),
                 str(films)], check=True, env=env, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            sent = time.perf_counter() - started
            processed = None
            if kind != "storescp":
                while _finished(work) < count + 1:
                    time.sleep(0.05)
                processed = time.perf_counter() - started
        finally:
            process.terminate()
            process.wait(30)
    return sent, processed


def run_ingest(
    films: Path, count: int, size: int, repeats: int, nice: int, baseline: Path | None = None
) -> list[str]:
    """Markdown rows: receiver, images/s, MB/s, ratio to storescp, and processed/s for ours."""
    labels = {"storescp": "pynetdicom storescp app", "ours": "VentFusion listener"}
    if baseline is not None:
        labels["baseline"] = f"VentFusion listener, baseline {baseline.name}"
    rows = []
    results: dict[str, list[tuple[float, float | None]]] = {kind: [] for kind in labels}
    for _ in range(repeats):
        for kind in labels:
            results[kind].append(ingest_once(kind, films, count, nice, baseline))
    reference = statistics.median(r[0] for r in results["storescp"])
    for kind, label in labels.items():
        sent = statistics.median(r[0] for r in results[kind])
        processed = [r[1] for r in results[kind] if r[1] is not None]
        done = f"{count / statistics.median(processed):.1f}" if processed else "-"
        rows.append(
            f"| {label} | {count} x {size / count / 1e6:.2f} MB | {count / sent:.1f} "
            f"| {size / sent / 1e6:.1f} | {reference / sent:.2f}x | {done} |"
        )
    return rows


async def measure_latency(
    runs: int, *, template: Path | None = None, model: dict[str, object] | None = None
) -> tuple[list[float], list[float]]:
    """Seconds from each C-STORE to its acknowledgement and to the updated prediction; sends
    copies of ``template`` (default RG1) with new UIDs to the app's composition configured with
    the ``model`` settings (default: the bundled model)."""
    from cds_app.app import build_context
    from cds_app.db.predictions import PredictionRepository
    from cds_app.dicom_wiring import listener_config
    from cds_app.runtime import load_model
    from cds_app.settings import Settings
    from dicom_listener.processing import ModelFilmProcessor
    from dicom_listener.server import start_listener
    from model.schemas import Measurement, PatientKey

    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        settings = Settings.model_validate(
            {
                "database_url": f"sqlite:///{tmp}/bench.sqlite3",
                "data_dir": tmp,
                "dicom": {"ae_title": AET},
                "model": {"debounce_s": 0.05, **(model or {})},
            }
        )
        loop = asyncio.get_running_loop()
        model = await asyncio.to_thread(load_model, settings)
        ctx = await asyncio.to_thread(build_context, settings, model, loop)
        config = listener_config(settings, port=0)
        listener = await asyncio.to_thread(
            start_listener, config, ModelFilmProcessor(model), ctx.film_sink
        )
        predictions = PredictionRepository(ctx.db)
        ds = dcmread(template or _rg1())
        key = PatientKey(system=settings.patient_id_system, value=str(ds.PatientID))
        charted = datetime.now(UTC) - timedelta(minutes=20)  # current vitals: the film is scored
        ctx.store.add_measurements(
            [Measurement(patient_key=key, variable=v, value=x, unit=u, time=charted,
                         source_id=f"Observation/{v}") for v, x, u in VITALS]
        )  # fmt: skip
        acks, updates = [], []
        try:
            for index in range(runs + 1):  # the first one untimed: the decoder process starts
                ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
                ds.AcquisitionDateTime = datetime.now(UTC).strftime("%Y%m%d%H%M%S.%f+0000")
                path = Path(tmp) / f"film{index}.dcm"
                ds.save_as(path, enforce_file_format=True)
                ack, update = await asyncio.to_thread(
                    _time_one, listener.port, path, str(ds.SOPInstanceUID), predictions, key
                )
                if index:
                    acks.append(ack)
                    updates.append(update)
        finally:
            await asyncio.to_thread(listener.stop)
            await ctx.rescorer.drain()
            ctx.db.dispose()
    return acks, updates


def _time_one(
    port: int, path: Path, uid: str, predictions: object, key: object
) -> tuple[float, float]:
    ae = AE(ae_title="BENCH")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.1.2.1")
    started = time.perf_counter()
    assoc = ae.associate("127.0.0.1", port, ae_title=AET)
    status = assoc.send_c_store(path)
    acked = time.perf_counter() - started
    assoc.release()
    if status.Status != 0:
        raise RuntimeError(f"C-STORE failed: 0x{status.Status:04X}")
    deadline = started + 60
    while time.perf_counter() < deadline:
        latest = predictions.latest(key)  # type: ignore[attr-defined]
        # RG1 is a real film: the applicability guard refuses it, the rescore says so
        refused = latest.film_not_used if latest is not None else None
        if latest is not None and uid in (
            latest.film_sop_instance_uid,
            refused and refused.sop_instance_uid,
        ):
            return acked, time.perf_counter() - started
        time.sleep(0.005)
    raise RuntimeError(f"no prediction with film {uid} after 60 s (latest: {latest})")


def main(argv: Sequence[str] | None = None) -> int:
    """Run both parts and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=30)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-runs", type=int, default=7)
    parser.add_argument("--worker-nice", type=int, default=5, help="of our processing threads")
    parser.add_argument("--part", choices=["all", "ingest", "latency"], default="all")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout whose listener runs side by side"
    )
    args = parser.parse_args(argv)
    if shutil.which("storescu") is None:
        raise SystemExit("DCMTK's storescu is needed (apt-get install dcmtk)")
    if args.part in ("all", "ingest"):
        ingest(args)
    if args.part in ("all", "latency"):
        latency(args.latency_runs)
    return 0


def ingest(args: argparse.Namespace) -> None:
    """Part 1: side-by-side ingest throughput."""
    with tempfile.TemporaryDirectory(prefix="bench-films-") as tmp:
        started = datetime.now(UTC)
        print(f"started {started:%H:%M} UTC, load average {_load()}")
        print("| receiver | films | images/s | MB/s | vs storescp | processed images/s |")
        print("|---|---|---|---|---|---|")
        for name, count, small in (("big", args.big, False), ("small", args.small, True)):
            folder = Path(tmp) / name
            size = make_films(folder, count, small=small)
            for row in run_ingest(
                folder, count, size, args.repeats, args.worker_nice, args.baseline
            ):
                print(row, flush=True)
        print(f"ended {datetime.now(UTC):%H:%M} UTC, load average {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def latency(runs: int) -> None:
    """Part 2: C-STORE to acknowledgement and to an updated prediction."""
    acks, updates = asyncio.run(measure_latency(runs))
    print()
    print(
        "| RG1 (7.2 MB), one association per film, rescoring debounce 0.05 s | median ms | max ms |"
    )
    print("|---|---|---|")
    print(f"| C-STORE -> 0x0000 | {1000 * statistics.median(acks):.0f} | {1000 * max(acks):.0f} |")
    print(
        f"| C-STORE -> updated prediction | {1000 * statistics.median(updates):.0f} "
        f"| {1000 * max(updates):.0f} |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
