"""handle_store turns every failure into a status; nothing escapes (disk errors included)."""

from __future__ import annotations

import errno
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dicom_listener.handlers import handle_store
from dicom_listener.spool import FileSpool
from tests.dicom_listener.films import make_film

CR = "1.2.840.10008.5.1.4.1.1.1"


def _event(data: bytes | Exception, sop_class: str = CR) -> Any:
    def encoded_dataset(include_meta: bool = True) -> bytes:
        if isinstance(data, Exception):
            raise data
        return data

    return SimpleNamespace(
        encoded_dataset=encoded_dataset,
        context=SimpleNamespace(abstract_syntax=sop_class),
        request=SimpleNamespace(AffectedSOPInstanceUID="1.2.3.4"),
    )


class DiskFullSpool(FileSpool):
    def store(self, uid: str, data: bytes) -> bool:
        raise OSError(errno.ENOSPC, "No space left on device")


class BrokenSpool(FileSpool):
    def store(self, uid: str, data: bytes) -> bool:
        raise RuntimeError("bug")


def test_success_spools_and_submits(tmp_path: Path) -> None:
    submitted: list[str] = []
    spool = FileSpool(tmp_path / "spool")
    data = make_film(tmp_path / "f.dcm").read_bytes()
    assert handle_store(_event(data), spool, submitted.append) == 0x0000
    assert len(submitted) == 1
    assert spool.pending_path(submitted[0]).read_bytes() == data


def test_disk_full_answers_0xa700(tmp_path: Path) -> None:
    data = make_film(tmp_path / "f.dcm").read_bytes()
    spool = DiskFullSpool(tmp_path / "spool")
    assert handle_store(_event(data), spool, lambda uid: None) == 0xA700


def test_unexpected_errors_become_failure_statuses(tmp_path: Path) -> None:
    data = make_film(tmp_path / "f.dcm").read_bytes()
    assert handle_store(_event(data), BrokenSpool(tmp_path / "s1"), lambda uid: None) == 0xC211
    reading = _event(ValueError("peer sent garbage"))
    assert handle_store(reading, FileSpool(tmp_path / "s2"), lambda uid: None) == 0xC210


def test_a_failing_queue_does_not_undo_the_acknowledgement(tmp_path: Path) -> None:
    def submit(uid: str) -> None:
        raise RuntimeError("queue closed")

    data = make_film(tmp_path / "f.dcm").read_bytes()
    spool = FileSpool(tmp_path / "spool")
    assert handle_store(_event(data), spool, submit) == 0x0000
    assert len(spool.pending_uids()) == 1  # resumed at the next start
