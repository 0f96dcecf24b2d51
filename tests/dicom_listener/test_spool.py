"""The spool: durable, idempotent, bounded, resumable."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dicom_listener.spool import FileSpool, SpoolFullError


def test_store_is_durable_and_idempotent(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path)
    assert spool.store("1.2.3", b"first")
    assert not spool.store("1.2.3", b"second")
    assert spool.pending_path("1.2.3").read_bytes() == b"first"
    assert list(spool.incoming.iterdir()) == []
    spool.mark_done("1.2.3")
    assert not spool.pending_path("1.2.3").exists()
    assert not spool.store("1.2.3", b"again")  # still a duplicate once processed
    assert spool.is_finished("1.2.3")


def test_quota_counts_pending_bytes_only(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path, max_bytes=10)
    assert spool.store("1.1", b"123456")
    with pytest.raises(SpoolFullError):
        spool.store("1.2", b"123456")
    spool.mark_done("1.1")
    assert spool.store("1.2", b"123456")


def test_min_free_bytes_refuses_when_the_disk_is_nearly_full(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path, min_free_bytes=2**62)
    with pytest.raises(SpoolFullError, match="free"):
        spool.store("1.1", b"x")


def test_restart_drops_unacknowledged_and_resumes_pending(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path)
    spool.store("1.1", b"a")
    spool.store("1.2", b"bb")
    stale, fresh = spool.incoming / "1.3.x.part", spool.incoming / "1.5.y.part"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh.write_bytes(b"a sibling process is still receiving this one")
    again = FileSpool(tmp_path, max_bytes=4)
    assert again.pending_uids() == ["1.1", "1.2"]
    assert list(again.incoming.iterdir()) == [fresh]
    with pytest.raises(SpoolFullError):  # 3 bytes pending are counted after restart
        again.store("1.4", b"xx")


def test_interrupted_transitions_are_finished(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path)
    spool.store("1.1", b"a")
    spool.store("1.2", b"b")
    (spool.done / "1.1").write_bytes(b"")  # crashed after the marker, before unlinking
    (spool.rejected / "1.2.reason").write_text("view position LL is not frontal\n")
    assert spool.finish_interrupted("1.1")
    assert spool.finish_interrupted("1.2")
    assert spool.pending_uids() == []
    assert (spool.rejected / "1.2.dcm").read_bytes() == b"b"


def test_keep_done_files(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path, keep_done_files=True)
    spool.store("1.1", b"a")
    spool.mark_done("1.1")
    assert (spool.done / "1.1.dcm").read_bytes() == b"a"


def test_quota_holds_under_concurrent_associations(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    spool = FileSpool(tmp_path, max_bytes=5 * 1000)

    def store(index: int) -> bool:
        try:
            return spool.store(f"1.{index}", b"x" * 1000)
        except SpoolFullError:
            return False

    with ThreadPoolExecutor(8) as pool:
        stored = list(pool.map(store, range(16)))
    assert sum(stored) == 5
    assert len(spool.pending_uids()) == 5
