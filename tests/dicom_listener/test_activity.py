"""Receipt first: processing waits for a quiet link, bounded (fake clock: no real waiting)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicom_listener.activity import ReceiptActivity
from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.server import start_listener
from tests.dicom_listener.films import make_film
from tests.dicom_listener.scu import store_files

from .conftest import StatsModel, listener_config


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(round(seconds, 6))
        self.now += seconds
        return False


def test_no_data_received_yet_means_no_wait() -> None:
    clock = FakeClock()
    ReceiptActivity(clock).wait_quiet(0.05, 2.0, clock.wait)
    assert clock.waits == []


def test_waits_until_quiet_for_the_whole_window() -> None:
    clock = FakeClock()
    activity = ReceiptActivity(clock)
    activity.received()
    clock.now += 0.02
    activity.wait_quiet(0.05, 2.0, clock.wait)
    assert clock.waits == [pytest.approx(0.03)]


def test_data_arriving_during_the_wait_extends_it() -> None:
    clock = FakeClock()
    activity = ReceiptActivity(clock)
    activity.received()

    def wait(seconds: float) -> bool:
        clock.wait(seconds)
        if len(clock.waits) == 1:
            activity.received()  # another fragment arrived meanwhile
        return False

    activity.wait_quiet(0.05, 2.0, wait)
    assert clock.waits == [0.05, 0.05]


def test_a_peer_that_never_pauses_cannot_hold_processing_beyond_the_bound() -> None:
    clock = FakeClock()
    activity = ReceiptActivity(clock)

    def wait(seconds: float) -> bool:
        clock.wait(seconds)
        activity.received()  # data without pause
        return False

    activity.received()
    activity.wait_quiet(0.05, 0.2, wait)
    assert sum(clock.waits) == pytest.approx(0.2)


def test_stop_ends_the_wait_and_zero_disables_it() -> None:
    clock = FakeClock()
    activity = ReceiptActivity(clock)
    activity.received()
    activity.wait_quiet(0.05, 2.0, lambda seconds: True)  # stop event set: returns at once
    activity.wait_quiet(0.0, 2.0, clock.wait)
    assert clock.waits == []


def test_received_data_marks_the_activity_and_films_are_still_processed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marks: list[None] = []
    original = ReceiptActivity.received

    def counted(self: ReceiptActivity) -> None:
        marks.append(None)
        original(self)

    monkeypatch.setattr(ReceiptActivity, "received", counted)
    sink = DirectoryFilmSink(tmp_path / "out")
    config = listener_config(tmp_path / "spool", processing_quiet_s=0.05)
    running = start_listener(config, ModelFilmProcessor(StatsModel()), sink)
    try:
        films = [make_film(tmp_path / f"f{i}.dcm") for i in range(3)]
        assert store_files(running.port, films) == [0x0000] * 3
        assert running.wait_idle(60)
    finally:
        running.stop()
    assert len(sink.added_uids()) == 3
    assert marks  # the association's reads reached the shared activity
