"""Poison instances: failing decodes are retried a few times, then quarantined once, for good."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from pydicom import dcmread

from dicom_listener.claims import LocalClaims
from dicom_listener.decoder import DecoderError
from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.quarantine import INTERRUPTED, AttemptLog, Quarantine
from dicom_listener.server import start_listener
from dicom_listener.spool import FileSpool
from dicom_listener.worker import SpoolWorker
from tests.dicom_listener.conftest import StatsModel, listener_config
from tests.dicom_listener.films import make_film
from tests.dicom_listener.scu import echo, store_files


def wait_for(condition: object, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_film_the_decoder_cannot_hold_is_quarantined_after_three_attempts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dicom_listener")
    config = listener_config(tmp_path / "spool", decoder_memory_bytes=24 * 2**20)
    sink = DirectoryFilmSink(tmp_path / "out")
    listener = start_listener(config, ModelFilmProcessor(StatsModel()), sink)
    try:
        poison = make_film(tmp_path / "big.dcm", size=3072, bits=16)  # beyond a 24 MiB decoder
        uid = str(dcmread(poison, stop_before_pixels=True).SOPInstanceUID)
        assert store_files(listener.port, [poison]) == [0x0000]  # acknowledged: it is valid
        quarantine = Quarantine(config.spool_dir / "quarantine")
        assert wait_for(lambda: quarantine.holds(uid))
        reason = (quarantine.folder / f"{uid}.reason").read_text()
        assert reason.startswith("3 failed attempts; last: out of memory")
        assert not listener.spool.pending_path(uid).exists()
        assert listener.stats.get("quarantined") == 1
        assert listener.stats.get("decoder_failure", "memory") == 3
        time.sleep(1.5)  # never retried by itself
        assert listener.stats.get("decoder_failure", "memory") == 3
        assert not AttemptLog(config.spool_dir / "attempts").read(uid).count
        # the listener is unharmed: it answers, and processes a good film
        assert echo(listener.port) == 0x0000
        good = make_film(tmp_path / "good.dcm")
        assert store_files(listener.port, [good]) == [0x0000]
        assert listener.wait_idle(60)
        assert sink.added_uids() == [str(dcmread(good).SOPInstanceUID)]
        # a duplicate of the quarantined instance is acknowledged, not stored again
        assert store_files(listener.port, [poison]) == [0x0000]
        assert not listener.spool.pending_path(uid).exists()
    finally:
        listener.stop()
    lines = [r for r in caplog.records if "quarantined" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.ERROR
    assert "dicom-quarantine" in lines[0].getMessage()
    assert not any(r.exc_info for r in caplog.records if r.name == "dicom_listener.worker")


def test_a_decoder_timeout_counts_towards_quarantine(tmp_path: Path) -> None:
    config = listener_config(tmp_path / "spool", decoder_timeout_s=0.05, max_attempts=2)
    sink = DirectoryFilmSink(tmp_path / "out")
    listener = start_listener(config, ModelFilmProcessor(StatsModel()), sink)
    try:
        slow = make_film(tmp_path / "slow.dcm", size=3072, bits=16)  # well over 50 ms
        uid = str(dcmread(slow, stop_before_pixels=True).SOPInstanceUID)
        assert store_files(listener.port, [slow]) == [0x0000]
        quarantine = Quarantine(config.spool_dir / "quarantine")
        assert wait_for(lambda: quarantine.holds(uid))
        assert "longer than 0.05 s" in (quarantine.folder / f"{uid}.reason").read_text()
        assert listener.stats.get("decoder_failure", "timeout") == 2
    finally:
        listener.stop()


def test_an_attempt_left_in_progress_counts_as_a_crash_at_the_next_start(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "spool")
    film = make_film(tmp_path / "f.dcm")
    uid = str(dcmread(film).SOPInstanceUID)
    assert spool.store(uid, film.read_bytes())
    for _ in range(3):  # three starts that died while decoding it
        spool.attempts.begin(uid)
    assert spool.attempts.read(uid).in_progress
    config = listener_config(tmp_path / "spool")
    listener = start_listener(config, ModelFilmProcessor(StatsModel()), DirectoryFilmSink(tmp_path))
    try:
        assert wait_for(lambda: spool.quarantine.holds(uid), 30)
        assert INTERRUPTED in (spool.quarantine.folder / f"{uid}.reason").read_text()
        assert listener.stats.get("decoder_failure", "interrupted") == 1
    finally:
        listener.stop()


def test_released_instances_are_processed_again(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "spool")
    film = make_film(tmp_path / "f.dcm")
    uid = str(dcmread(film).SOPInstanceUID)
    assert spool.store(uid, film.read_bytes())
    spool.quarantine_instance(uid, "3 failed attempts; last: test")
    assert [entry.sop_instance_uid for entry in spool.quarantine.entries()] == [uid]
    assert spool.is_known(uid)
    assert spool.release(uid)
    assert not spool.release(uid)  # not in quarantine any more
    assert spool.pending_uids() == [uid]
    assert spool.quarantine.entries() == []
    config = listener_config(tmp_path / "spool", rescan_interval_s=0.2)
    sink = DirectoryFilmSink(tmp_path / "out")
    listener = start_listener(config, ModelFilmProcessor(StatsModel()), sink)
    try:
        assert listener.wait_idle(60)
        assert sink.added_uids() == [uid]
        # released while the listener runs: the periodic scan picks it up
        other = make_film(tmp_path / "g.dcm")
        other_uid = str(dcmread(other).SOPInstanceUID)
        assert spool.store(other_uid, other.read_bytes())
        spool.quarantine_instance(other_uid, "test")
        assert spool.release(other_uid)
        assert wait_for(lambda: other_uid in sink.added_uids(), 30)
    finally:
        listener.stop()


def test_attempt_markers_are_durable_json(tmp_path: Path) -> None:
    log = AttemptLog(tmp_path / "attempts")
    assert log.begin("1.2.3").count == 1
    assert log.failed("1.2.3", "decoder process killed by SIGSEGV").count == 1
    assert log.begin("1.2.3").count == 2
    record = json.loads((tmp_path / "attempts" / "1.2.3.json").read_text())
    assert record["count"] == 2
    assert record["in_progress"] is True
    assert record["reason"] == "decoder process killed by SIGSEGV"
    log.abandon("1.2.3")
    assert log.read("1.2.3").count == 1
    log.clear("1.2.3")
    assert log.read("1.2.3").count == 0


class NoDecoderBuilder:
    """A builder whose decoder process never starts (no forkserver, a full process table)."""

    calls = 0

    def warm_up(self) -> None:
        pass

    def build(self, path: Path) -> object:
        NoDecoderBuilder.calls += 1
        raise DecoderError("unavailable", "no decoder process: decoder process did not start")

    def close(self) -> None:
        pass


def test_no_decoder_process_is_not_the_films_fault(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "spool")
    film = make_film(tmp_path / "f.dcm")
    uid = str(dcmread(film).SOPInstanceUID)
    assert spool.store(uid, film.read_bytes())
    worker = SpoolWorker(
        spool=spool,
        claims=LocalClaims(),
        sink=DirectoryFilmSink(tmp_path / "out"),
        builder=NoDecoderBuilder(),  # type: ignore[arg-type]
        retry_delay_s=0.05,
        max_attempts=2,
    )
    worker.start()
    try:
        assert wait_for(lambda: NoDecoderBuilder.calls >= 4, 30)
    finally:
        worker.stop()
    assert not spool.quarantine.holds(uid)
    assert spool.pending_path(uid).exists()
    assert spool.attempts.read(uid).count == 0
    assert worker.stats.get("decoder_failure", "unavailable") >= 4
