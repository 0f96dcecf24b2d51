"""The decoder process: outcomes come back, and a crash, a hang or a memory blow-up is contained."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicom_listener.decoder import DecoderError, DecoderJob, DecoderLimits, DecoderProcess
from dicom_listener.facts import PreparedFilm, Rejection
from tests.dicom_listener.conftest import listener_config
from tests.dicom_listener.films import make_film

LIMITS = DecoderLimits(memory_bytes=3 * 2**30, timeout_s=60.0, max_jobs=3, nice=0)


def decoder(tmp_path: Path, limits: DecoderLimits = LIMITS) -> DecoderProcess:
    return DecoderProcess(DecoderJob(listener_config(tmp_path / "spool"), 64), limits)


@pytest.fixture
def film(tmp_path: Path) -> Path:
    return make_film(tmp_path / "f.dcm")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[DecoderProcess]:
    process = decoder(tmp_path)
    process.warm_up()
    try:
        yield process
    finally:
        process.close()


def test_films_come_back_prepared_and_the_process_is_replaced_after_max_jobs(
    running: DecoderProcess, film: Path, tmp_path: Path
) -> None:
    first = running.pid
    assert first is not None
    assert first != os.getpid()
    outcomes = [running.run(film) for _ in range(3)]
    assert all(isinstance(outcome, PreparedFilm) for outcome in outcomes)
    assert running.pid is None  # three jobs: this child is done
    assert isinstance(running.run(film), PreparedFilm)
    assert running.pid not in (None, first)


def test_what_is_not_a_film_comes_back_as_a_reason(running: DecoderProcess, tmp_path: Path) -> None:
    outcome = running.run(make_film(tmp_path / "knee.dcm", body_part="KNEE"))
    assert isinstance(outcome, Rejection)
    assert outcome.reason == "body part KNEE is not a chest"


def run_in_background(process: DecoderProcess, film: Path) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []

    def target() -> None:
        try:
            result.append(process.run(film))
        except DecoderError as exc:
            result.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, result


def test_a_decoder_killed_while_decoding_is_reported_as_a_crash(
    running: DecoderProcess, film: Path
) -> None:
    pid = running.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # "decoding": the job is sent, no answer comes
    thread, result = run_in_background(running, film)
    thread.join(0.5)
    assert thread.is_alive()
    os.kill(pid, signal.SIGKILL)  # what a segfault or the OOM killer would do
    thread.join(10)
    error = result[0]
    assert isinstance(error, DecoderError)
    assert error.kind == "crash"
    assert "SIGKILL" in error.reason
    assert isinstance(running.run(film), PreparedFilm)  # a fresh process takes over


def test_a_decoder_that_hangs_is_killed_after_the_timeout(tmp_path: Path, film: Path) -> None:
    process = decoder(tmp_path, DecoderLimits(3 * 2**30, timeout_s=1.0, max_jobs=10, nice=0))
    process.warm_up()
    try:
        pid = process.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        with pytest.raises(DecoderError) as caught:
            process.run(film)
        assert caught.value.kind == "timeout"
        assert "longer than 1 s" in caught.value.reason
        assert process.pid is None
        with pytest.raises(ProcessLookupError):  # killed, and reaped
            os.kill(pid, 0)
        assert isinstance(process.run(film), PreparedFilm)
    finally:
        process.close()


def test_a_film_beyond_the_memory_cap_fails_in_the_decoder_not_in_the_listener(
    tmp_path: Path,
) -> None:
    big = make_film(tmp_path / "big.dcm", size=3072, bits=16)  # 18 MiB of pixels
    process = decoder(tmp_path, DecoderLimits(24 * 2**20, timeout_s=60.0, max_jobs=10, nice=0))
    try:
        with pytest.raises(DecoderError) as caught:
            process.run(big)
        assert caught.value.kind == "memory"
        assert "out of memory" in caught.value.reason
        assert process.pid is None  # not trusted with the next film
    finally:
        process.close()
