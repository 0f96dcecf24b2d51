"""A listener killed (SIGKILL) in the middle of a batch and restarted loses no acknowledged film
and hands each one to the sink exactly once; one killed while decoding a film quarantines that
film at the next start instead of dying on it again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydicom import dcmread

from dicom_listener.directory_sink import DirectoryFilmSink
from tests.dicom_listener.films import make_film, real_film
from tests.dicom_listener.scu import echo, store_files

from .conftest import AE_TITLE

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(spool: Path, out: Path, port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "dicom_listener", "--spool", str(spool), "--out", str(out),
        "--port", str(port), "--ae-title", AE_TITLE, "--model", "none", "--film-size", "64",
        *extra,
    ]  # fmt: skip
    with open(log, "ab") as handle:  # own session: SIGKILL to its group takes the decoders too
        process = subprocess.Popen(
            command, cwd=REPO, stdout=handle, stderr=handle, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while echo(port) != 0x0000:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"listener did not start: {log.read_text()}")
        time.sleep(0.2)
    return process


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_processes_every_acknowledged_film_once(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "films"
    folder.mkdir()
    films = [make_film(folder / f"{i:02d}.dcm", size=768, seed=i) for i in range(24)]
    uids = [str(dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in films]
    spool, out, log = tmp_path / "spool", tmp_path / "out", tmp_path / "listener.log"
    port = _free_port()

    process = _start(spool, out, port, log)
    statuses: list[int | None] = []

    def send_one_by_one() -> None:  # one association per film, as some modalities do
        for film in films:
            statuses.extend(store_files(port, [film]))

    sender = threading.Thread(target=send_one_by_one)
    sender.start()
    deadline = time.monotonic() + 60
    while statuses.count(0x0000) < 8 and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    sender.join(60)
    acknowledged = {uid for uid, status in zip(uids, statuses, strict=False) if status == 0}
    assert len(acknowledged) >= 8
    assert len(acknowledged) < len(films)  # killed mid-batch
    pending_at_kill = len(list((spool / "pending").glob("*.dcm")))

    process = _start(spool, out, port, log)
    try:
        # the PACS retries what was not acknowledged (duplicates of spooled ones included)
        retry = [f for f, uid in zip(films, uids, strict=True) if uid not in acknowledged]
        assert store_files(port, retry) == [0x0000] * len(retry)
        sink = DirectoryFilmSink(out)
        deadline = time.monotonic() + 120
        while len(sink.added_uids()) < len(films) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert sorted(sink.added_uids()) == sorted(uids), log.read_text()[-3000:]
    added = [line.split()[1] for line in sink.log_path.read_text().splitlines() if "added" in line]
    assert sorted(added) == sorted(uids)  # each handed to the sink (as new) exactly once
    assert list((spool / "pending").iterdir()) == []
    # a partial receive cut by the kill may remain in incoming/ (removed after an hour); never used
    assert all(p.suffix == ".part" for p in (spool / "incoming").iterdir())
    print(f"acknowledged before kill: {len(acknowledged)}, pending at kill: {pending_at_kill}")


def test_a_film_whose_decoding_killed_the_listener_is_quarantined_at_restart(
    tmp_path: Path,
) -> None:
    spool, out, log = tmp_path / "spool", tmp_path / "out", tmp_path / "listener.log"
    port = _free_port()
    poison = real_film("RG1_J2KR.dcm")  # JPEG 2000: long enough to be caught while decoding
    uid = str(dcmread(poison, stop_before_pixels=True).SOPInstanceUID)
    marker = spool / "attempts" / f"{uid}.json"
    process = _start(spool, out, port, log, "--max-attempts", "1")
    try:
        assert store_files(port, [poison]) == [0x0000]
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        os.killpg(process.pid, signal.SIGKILL)  # the listener and its decoder, mid-decode
    finally:
        process.wait(10)
    assert (spool / "pending" / f"{uid}.dcm").exists()
    assert json.loads(marker.read_text())["in_progress"] is True

    process = _start(spool, out, port, log, "--max-attempts", "1")  # up, and not on this film
    try:
        quarantined = spool / "quarantine" / f"{uid}.dcm"
        deadline = time.monotonic() + 60
        while not quarantined.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert quarantined.exists(), log.read_text()[-3000:]
        assert "interrupted" in (spool / "quarantine" / f"{uid}.reason").read_text()
        assert not (spool / "pending" / f"{uid}.dcm").exists()
        assert echo(port) == 0x0000
        good = make_film(tmp_path / "good.dcm")
        assert store_files(port, [good]) == [0x0000]
        sink = DirectoryFilmSink(out)
        deadline = time.monotonic() + 60
        while not sink.added_uids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sink.added_uids() == [str(dcmread(good).SOPInstanceUID)]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert log.read_text().count(f"SOP Instance {uid} quarantined") == 1
