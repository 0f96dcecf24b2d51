"""handle_store turns every failure into a status; nothing escapes (disk errors included)."""

from __future__ import annotations

import errno
import io
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydicom import dcmread

from dicom_listener.association_log import AssociationLog
from dicom_listener.convert_read import meta_end
from dicom_listener.handlers import handle_store
from dicom_listener.spool import FileSpool
from dicom_listener.stats import ListenerStats
from tests.dicom_listener.films import LIMITS, make_film

CR = "1.2.840.10008.5.1.4.1.1.1"


class _Association:
    """Stands in for pynetdicom's Association (the handler counts per association)."""


def _event(data: bytes | Exception, sop_class: str = CR, requested: str | None = None) -> Any:
    def encoded_dataset(include_meta: bool = True) -> bytes:
        if isinstance(data, Exception):
            raise data
        return data

    if requested is None and isinstance(data, bytes):
        requested = str(dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID)
    return SimpleNamespace(
        encoded_dataset=encoded_dataset,
        context=SimpleNamespace(abstract_syntax=sop_class),
        request=SimpleNamespace(AffectedSOPInstanceUID=requested or "1.2.3.4"),
        assoc=_Association(),
    )


def _store(event: Any, spool: FileSpool, submit: Any) -> Any:
    return handle_store(event, spool, submit, LIMITS, AssociationLog(ListenerStats()))


def _status(answer: Any) -> int:
    return int(answer if isinstance(answer, int) else answer.Status)


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
    assert _store(_event(data), spool, submitted.append) == 0x0000
    assert len(submitted) == 1
    assert spool.pending_path(submitted[0]).read_bytes() == data


def test_disk_full_answers_0xa700(tmp_path: Path) -> None:
    data = make_film(tmp_path / "f.dcm").read_bytes()
    spool = DiskFullSpool(tmp_path / "spool")
    answer = _store(_event(data), spool, lambda uid: None)
    assert _status(answer) == 0xA700
    assert "retry later" in answer.ErrorComment


def test_unexpected_errors_answer_0xc211_without_details(tmp_path: Path) -> None:
    data = make_film(tmp_path / "f.dcm").read_bytes()
    answer = _store(_event(data), BrokenSpool(tmp_path / "s1"), lambda uid: None)
    assert _status(answer) == 0xC211
    assert answer.ErrorComment == "internal error in the receiver"  # no traceback to the peer
    reading = _event(RuntimeError("bug in the pynetdicom glue"))
    assert _status(_store(reading, FileSpool(tmp_path / "s2"), lambda uid: None)) == 0xC211


def test_random_bytes_answer_cannot_understand(tmp_path: Path) -> None:
    data = make_film(tmp_path / "f.dcm").read_bytes()
    garbage = data[: meta_end(data)] + random.Random(15).randbytes(4000)  # valid file meta
    answer = _store(_event(garbage, requested="1.2.3.4"), FileSpool(tmp_path / "s"), print)
    assert _status(answer) == 0xC210
    assert answer.ErrorComment


def test_a_failing_queue_does_not_undo_the_acknowledgement(tmp_path: Path) -> None:
    def submit(uid: str) -> None:
        raise RuntimeError("queue closed")

    data = make_film(tmp_path / "f.dcm").read_bytes()
    spool = FileSpool(tmp_path / "spool")
    assert _store(_event(data), spool, submit) == 0x0000
    assert len(spool.pending_uids()) == 1  # resumed at the next start
