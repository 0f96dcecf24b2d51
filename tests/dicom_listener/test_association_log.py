"""What a PACS administrator reads: association events with reasons, refusals with comments."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, _config
from pynetdicom.association import Association

from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.server import RunningListener, start_listener
from tests.dicom_listener.films import make_film
from tests.dicom_listener.scu import VERIFICATION, echo

from .conftest import AE_TITLE, StatsModel, listener_config

CR = "1.2.840.10008.5.1.4.1.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="dicom_listener")
    return caplog


def start(tmp_path: Path, **overrides: object) -> RunningListener:
    config = listener_config(tmp_path / "spool", **overrides)
    return start_listener(
        config, ModelFilmProcessor(StatsModel()), DirectoryFilmSink(tmp_path / "out")
    )


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[RunningListener]:
    running = start(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def associate(
    port: int, *contexts: str, source: str = "127.0.0.1", calling: str = "PACS"
) -> Association:
    ae = AE(ae_title=calling)
    for context in contexts or (VERIFICATION,):
        ae.add_requested_context(context, ExplicitVRLittleEndian)
    return ae.associate("127.0.0.1", port, ae_title=AE_TITLE, bind_address=(source, 0))


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_accepted_refused_contexts_and_release_are_logged_with_counts(
    listener: RunningListener, log: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    assoc = associate(listener.port, CR, CT)
    assert assoc.is_established
    good = make_film(tmp_path / "good.dcm")
    bad = make_film(tmp_path / "bad.dcm", seed=1)
    ds = dcmread(bad)
    ds.PatientID = ["PHIMRN904", "PHIMRN904B"]
    ds.save_as(bad)
    assert assoc.send_c_store(good).Status == 0x0000
    answer = assoc.send_c_store(bad)
    assert answer.Status == 0xA900
    assert "PatientID has 2 values" in answer.ErrorComment
    assoc.release()
    assert listener.wait_idle(30)
    info = messages(log, logging.INFO)
    assert any("association accepted from PACS@127.0.0.1" in m for m in info)
    warnings = messages(log, logging.WARNING)
    assert any(
        "contexts refused: CT Image Storage (SOP class not supported)" in m for m in warnings
    )
    assert any(
        "association released by PACS@127.0.0.1" in m and "1 instances acknowledged, 1 refused" in m
        for m in info
    )
    assert any(
        "refused SOP Instance" in m and "0xA900 PatientID has 2 values" in m for m in warnings
    )


def test_rejections_name_their_reason(tmp_path: Path, log: pytest.LogCaptureFixture) -> None:
    listener = start(tmp_path, allowed_calling_aets=("PACSSIM",))
    try:
        assert echo(listener.port, called="ELSEWHERE", calling="PACSSIM") is None
        assert echo(listener.port, calling="INTRUDER") is None
    finally:
        listener.stop()
    warnings = messages(log, logging.WARNING)
    assert any("called ELSEWHERE" in m and "called AE title not recognised" in m for m in warnings)
    assert any("INTRUDER" in m and "calling AE title not recognised" in m for m in warnings)


def test_an_abort_is_logged(listener: RunningListener, log: pytest.LogCaptureFixture) -> None:
    assoc = associate(listener.port)
    assert assoc.is_established
    assoc.abort()
    deadline = time.monotonic() + 10
    while not any("aborted" in m for m in messages(log, logging.WARNING)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert listener.stats.get("association", "aborted") == 1


def test_associations_per_peer_are_capped_with_a_proper_rejection(
    tmp_path: Path, log: pytest.LogCaptureFixture
) -> None:
    listener = start(tmp_path, max_associations_per_peer=2)
    held = [associate(listener.port, source="127.0.0.2") for _ in range(2)]
    try:
        assert all(a.is_established for a in held)
        third = associate(listener.port, source="127.0.0.2")
        assert third.is_rejected
        assert third.acceptor.primitive.result == 0x02  # transient: try again later
        assert third.acceptor.primitive.diagnostic == 0x02  # local limit exceeded
        assert echo(listener.port) == 0x0000  # another peer is not affected
    finally:
        for assoc in held:
            assoc.release()
        listener.stop()
    assert any(
        "127.0.0.2" in m and "DICOM__MAX_ASSOCIATIONS_PER_PEER" in m
        for m in messages(log, logging.WARNING)
    )


def test_the_total_number_of_associations_is_capped(tmp_path: Path) -> None:
    listener = start(tmp_path, max_associations=2, max_associations_per_peer=0)
    held = [associate(listener.port) for _ in range(2)]
    try:
        assert all(a.is_established for a in held)
        assert associate(listener.port).is_rejected
    finally:
        for assoc in held:
            assoc.release()
    try:
        assert echo(listener.port) == 0x0000  # room again once they are released
    finally:
        listener.stop()


def test_a_request_announcing_another_instance_than_it_carries_is_refused(
    listener: RunningListener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)  # the file as it is
    path = make_film(tmp_path / "f.dcm")
    ds = dcmread(path)
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()  # what the request announces
    ds.save_as(path)
    assoc = associate(listener.port, CR)
    try:
        answer: Dataset = assoc.send_c_store(path)  # chunked: the file meta gives the request
    finally:
        assoc.release()
    assert answer.Status == 0xA900
    assert "Affected SOP Instance UID" in answer.ErrorComment
