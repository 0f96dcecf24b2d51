"""Connection hygiene: a silent TLS peer does not block the accept loop; refusals log once."""

from __future__ import annotations

import logging
import select
import socket
import ssl
import struct
import threading
import time
from pathlib import Path

import pytest

from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.network import READ_AHEAD_BYTES, GuardedSocket, ThrottledLog
from dicom_listener.pdu_guard import GuardLimits, PduGuard
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


def _guarded_pair() -> tuple[GuardedSocket, socket.socket]:
    ours, peer = socket.socketpair()
    guarded = GuardedSocket(ours.family, ours.type, ours.proto, ours.detach())
    guard = PduGuard(
        GuardLimits(
            max_pdu=1 << 20, max_message_bytes=1 << 24, pdu_timeout_s=5.0, message_timeout_s=5.0
        )
    )
    guard.outbound(struct.pack(">BBL", 0x02, 0, 0))  # our A-ASSOCIATE-AC: P-DATA may follow
    guarded.pdu_guard = guard
    return guarded, peer


def _p_data(payload: bytes) -> bytes:
    pdv = struct.pack(">LBB", len(payload) + 2, 1, 0x00) + payload
    return struct.pack(">BBL", 0x04, 0, len(pdv)) + pdv


def _read_pdu(sock: GuardedSocket) -> bytes:
    """As pynetdicom reads: the 6-byte header, then the payload 4 KiB per recv."""
    header = sock.recv(6)
    (length,) = struct.unpack(">L", header[2:])
    payload = bytearray()
    while len(payload) < length:
        payload += sock.recv(min(4096, length - len(payload)))
    return header + bytes(payload)


def test_reads_ahead_within_a_pdu_and_never_past_it(monkeypatch: pytest.MonkeyPatch) -> None:
    guarded, peer = _guarded_pair()
    sizes: list[int] = []  # what each system call asked for
    raw_recv = socket.socket.recv

    def counted(sock: socket.socket, size: int, *flags: int) -> bytes:
        sizes.append(size)
        return raw_recv(sock, size, *flags)

    first, second = _p_data(bytes(range(256)) * 1200), _p_data(b"next" * 10)
    sender = threading.Thread(target=peer.sendall, args=(first + second,))
    sender.start()  # more than a socket buffer holds: sent while we read
    with monkeypatch.context() as patched:
        patched.setattr(socket.socket, "recv", counted)
        assert _read_pdu(guarded) == first
    sender.join()
    assert sizes[0] == 6  # the header, as asked
    assert sizes[1] == READ_AHEAD_BYTES  # then as much of the payload as we read ahead
    ready, _, _ = select.select([guarded], [], [], 0)
    assert ready  # the next PDU is still in the socket, for pynetdicom's poll to see
    assert _read_pdu(guarded) == second
    guarded.close()
    peer.close()
