"""The listener as a real process under hostile input (issue #15), loopback only.

Decompression bombs, a PDU header claiming 4 GiB and a flood of stalled connections: the
listener's resident memory stays within 300 MB of its baseline throughout, echoscu answers
during the flood, the stalled connections are closed within the network timeout, and a valid
film sent afterwards is acknowledged and processed.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydicom import dcmread

from dicom_listener.directory_sink import DirectoryFilmSink
from tests.dicom_listener.conftest import AE_TITLE, require_binary
from tests.dicom_listener.films import make_film
from tests.dicom_listener.hostile import (
    closed_by_peer,
    deflate_bomb,
    rle_bomb,
    send_huge_pdu,
    stalled_connection,
)
from tests.dicom_listener.scu import echo, store_files
from tests.dicom_listener.test_restart import _free_port, _start

CR = "1.2.840.10008.5.1.4.1.1.1"
DEFLATED = "1.2.840.10008.1.2.1.99"
TIMEOUT_S = 3  # the listener's ACSE and network timeouts in this test
RSS_BUDGET_KB = 300 * 1024


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@dataclass
class Listener:
    process: subprocess.Popen[bytes]
    port: int
    out: Path
    log: Path
    baseline_kb: int = 0
    peak_kb: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, rss_kb(self.process.pid))
            self.samples += 1
            time.sleep(0.01)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the listener's memory")
    port, out, log = _free_port(), tmp_path / "out", tmp_path / "listener.log"
    timeouts = ("--acse-timeout", str(TIMEOUT_S), "--network-timeout", str(TIMEOUT_S))
    process = _start(tmp_path / "spool", out, port, log, *timeouts)
    running = Listener(process, port, out, log)
    time.sleep(0.5)
    running.baseline_kb = running.peak_kb = rss_kb(process.pid)
    sampler = threading.Thread(target=running.sample, daemon=True)
    sampler.start()
    try:
        yield running
    finally:
        running._stop.set()
        sampler.join(5)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.dcmtk
def test_bombs_lying_headers_and_a_stall_flood_leave_the_listener_bounded_and_answering(
    listener: Listener, tmp_path: Path
) -> None:
    echoscu = require_binary("echoscu")
    # 1. RLE film of 64 x 64 pixels claiming 65535 x 65535
    assert store_files(listener.port, [rle_bomb(tmp_path / "rle.dcm")]) == [0xA701]
    # 2. deflated data set inflating to 800 MiB (contexts given: the sender must not inflate it)
    bomb = deflate_bomb(tmp_path / "deflate.dcm")
    assert store_files(listener.port, [bomb], contexts={CR: {DEFLATED}}) == [0xA701]
    # 3. a PDU header claiming 4 GiB, then 256 MiB of garbage: closed after the header
    taken = send_huge_pdu(listener.port, claimed=0xFFFFFFF0, send_bytes=256 << 20)
    assert taken < 64 << 20
    # 4. twenty connections that send 8 bytes and stall, from the address echoscu uses
    stalled = [stalled_connection(listener.port) for _ in range(20)]
    started = time.monotonic()
    answered = subprocess.run(
        [echoscu, "-aet", "PACS", "-aec", AE_TITLE, "127.0.0.1", str(listener.port)],
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert answered.returncode == 0, answered.stderr
    assert echo(listener.port) == 0x0000
    assert time.monotonic() - started < TIMEOUT_S  # while the flood still stands
    closed = [closed_by_peer(sock, TIMEOUT_S + 5) for sock in stalled]
    assert all(closed)
    assert time.monotonic() - started < TIMEOUT_S + 5
    for sock in stalled:
        sock.close()
    # 5. a valid film afterwards is acknowledged and processed
    film = make_film(tmp_path / "good.dcm")
    uid = str(dcmread(film).SOPInstanceUID)
    assert store_files(listener.port, [film]) == [0x0000]
    sink = DirectoryFilmSink(listener.out)
    deadline = time.monotonic() + 90
    while uid not in sink.added_uids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sink.added_uids() == [uid], listener.log.read_text()[-3000:]
    assert listener.samples > 100
    growth = listener.peak_kb - listener.baseline_kb
    assert growth < RSS_BUDGET_KB, f"RSS grew by {growth} kB"
    log = listener.log.read_text()
    assert "0xA701 image of 65535x65535 pixels" in log
    assert "0xA701 image of 20480x20480 pixels" in log  # from the header, pixels not inflated
    assert "PDU of 4294967280 bytes claimed before association" in log
    assert "PDU not complete within 3 s (stalled peer)" in log
    assert "Traceback" not in log
    print(f"RSS baseline {listener.baseline_kb} kB, peak {listener.peak_kb} kB")
