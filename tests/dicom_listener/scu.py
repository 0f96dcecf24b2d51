"""A pynetdicom storage SCU used by the tests (sends files as they are, no re-encoding)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydicom import dcmread
from pydicom.uid import UID
from pynetdicom import AE, _config

VERIFICATION = UID("1.2.840.10008.1.1")


def _contexts(paths: Sequence[Path]) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {}
    for path in paths:
        meta = dcmread(path, stop_before_pixels=True).file_meta
        wanted.setdefault(str(meta.MediaStorageSOPClassUID), set()).add(str(meta.TransferSyntaxUID))
    return wanted


def store_files(
    port: int,
    paths: Sequence[Path],
    *,
    called: str = "CDSLISTENER",
    calling: str = "TESTSCU",
    host: str = "127.0.0.1",
    contexts: dict[str, set[str]] | None = None,
) -> list[int | None]:
    """C-STORE each file on one association; the status per file (None: not sent).

    Files are streamed as they are on disk (pynetdicom's chunked mode: file meta decides the
    context), so truncated or inconsistent files reach the listener unchanged.
    """
    _config.STORE_SEND_CHUNKED_DATASET = True
    ae = AE(ae_title=calling)
    for sop_class, syntaxes in (contexts or _contexts(paths)).items():
        ae.add_requested_context(sop_class, sorted(syntaxes))
    assoc = ae.associate(host, port, ae_title=called)
    if not assoc.is_established:
        return [None for _ in paths]
    statuses: list[int | None] = []
    try:
        for path in paths:
            try:
                rsp = assoc.send_c_store(path)
            except ValueError:  # no accepted presentation context for this SOP class
                statuses.append(None)
                continue
            statuses.append(int(rsp.Status) if "Status" in rsp else None)
    finally:
        assoc.release()
    return statuses


def echo(port: int, *, called: str = "CDSLISTENER", calling: str = "TESTSCU") -> int | None:
    """C-ECHO; the status, or None when the association is refused."""
    ae = AE(ae_title=calling)
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    if not assoc.is_established:
        return None
    try:
        rsp = assoc.send_c_echo()
        return int(rsp.Status) if "Status" in rsp else None
    finally:
        assoc.release()
