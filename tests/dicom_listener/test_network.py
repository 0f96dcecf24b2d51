"""Connection hygiene: a silent TLS peer does not block the accept loop; refusals log once."""

from __future__ import annotations

import logging
import socket
import ssl
import time
from pathlib import Path

import pytest

from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.network import ThrottledLog
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.server import start_listener
from tests.dicom_listener.hostile import closed_by_peer
from tests.dicom_listener.test_tls import _echo_tls, pki  # noqa: F401  (the fixture)
from tests.dicom_listener.tls_certs import Pki

from .conftest import StatsModel, listener_config


def test_silent_tls_connections_neither_block_others_nor_stay_open(
    tmp_path: Path,
    pki: Pki,  # noqa: F811
) -> None:
    config = listener_config(
        tmp_path / "spool", tls_cert=pki.server_cert, tls_key=pki.server_key, acse_timeout_s=2
    )
    listener = start_listener(
        config, ModelFilmProcessor(StatsModel()), DirectoryFilmSink(tmp_path / "out")
    )
    try:
        silent = [socket.create_connection(("127.0.0.1", listener.port)) for _ in range(5)]
        client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
        started = time.monotonic()
        assert _echo_tls(listener.port, client)  # the handshakes wait in their own threads
        assert time.monotonic() - started < 2
        assert all(closed_by_peer(sock, 6) for sock in silent)  # handshake deadline
        for sock in silent:
            sock.close()
        assert listener.stats.get("connection_refused", "tls") == 5
    finally:
        listener.stop()


def test_throttled_log_says_it_once_then_counts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dicom_listener.network")
    throttle = ThrottledLog(interval_s=0.2)
    for _ in range(50):
        throttle.warning("stalled:10.0.0.9", "closing connection from %s", "10.0.0.9")
    throttle.warning("stalled:10.0.0.8", "closing connection from %s", "10.0.0.8")
    time.sleep(0.25)
    throttle.warning("stalled:10.0.0.9", "closing connection from %s", "10.0.0.9")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "closing connection from 10.0.0.9",
        "closing connection from 10.0.0.8",
        "closing connection from 10.0.0.9 (49 more like it since the last such line)",
    ]
