"""Durable spool of received instances, keyed by SOP Instance UID.

Layout under the spool directory::

    incoming/   temporary files being written (stale ones removed at start: never acknowledged)
    pending/    <uid>.dcm  acknowledged, durable, waiting to be processed
    done/       <uid>      processed marker (or <uid>.dcm with keep_done_files)
    rejected/   <uid>.dcm  received but not scored (reason in <uid>.reason)
    attempts/, quarantine/ poison handling, see :mod:`dicom_listener.quarantine`

An instance is acknowledged only after :meth:`FileSpool.store` returns: data written, fsynced,
renamed into ``pending/`` and the directory fsynced.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from dicom_listener import DicomListenerError
from dicom_listener.durable import fsync_dir, write_durable
from dicom_listener.quarantine import AttemptLog, Quarantine

log = logging.getLogger(__name__)


class SpoolFullError(DicomListenerError):
    """The spool has no room for an instance (quota or disk)."""


class FileSpool:
    """A spool directory; thread-safe within one process."""

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int = 0,
        min_free_bytes: int = 0,
        keep_done_files: bool = False,
        incoming_stale_s: float = 3600.0,
    ) -> None:
        self.root = root
        self.incoming = root / "incoming"
        self.pending = root / "pending"
        self.done = root / "done"
        self.rejected = root / "rejected"
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        self.keep_done_files = keep_done_files
        self._lock = threading.Lock()
        for folder in (self.incoming, self.pending, self.done, self.rejected):
            folder.mkdir(parents=True, exist_ok=True)
        self.attempts = AttemptLog(root / "attempts")
        self.quarantine = Quarantine(root / "quarantine")
        self._drop_stale_incoming(incoming_stale_s)
        self._pending_bytes = sum(size for _, size, _ in self._pending_files())

    def pending_path(self, uid: str) -> Path:
        """Where an acknowledged, unprocessed instance lies."""
        return self.pending / f"{uid}.dcm"

    def is_known(self, uid: str) -> bool:
        """True when the instance was already received (pending, done, rejected, quarantined)."""
        return (
            self.pending_path(uid).exists()
            or (self.done / uid).exists()
            or (self.done / f"{uid}.dcm").exists()
            or (self.rejected / f"{uid}.dcm").exists()
            or self.quarantine.holds(uid)
        )

    def is_finished(self, uid: str) -> bool:
        """True when the instance was processed (handed to the sink) or rejected."""
        return (
            (self.done / uid).exists()
            or (self.done / f"{uid}.dcm").exists()
            or (self.rejected / f"{uid}.reason").exists()
        )

    def pending_uids(self) -> list[str]:
        """Acknowledged instances still to process, oldest first."""
        return [path.stem for _, _, path in sorted(self._pending_files())]

    def _pending_files(self) -> list[tuple[int, int, Path]]:
        """(mtime, size, path) of pending files; files a sibling process just moved are skipped."""
        found = []
        for path in self.pending.glob("*.dcm"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            found.append((stat.st_mtime_ns, stat.st_size, path))
        return found

    def _drop_stale_incoming(self, older_than_s: float) -> None:
        """Remove partial receives left by a crash (never acknowledged: the sender retries).

        Only files older than ``older_than_s`` go, so a sibling process sharing this spool keeps
        its in-flight receives.
        """
        limit = time.time() - older_than_s
        for leftover in self.incoming.glob("*.part"):
            try:
                if leftover.stat().st_mtime < limit:
                    leftover.unlink()
            except FileNotFoundError:
                continue

    def _reserve(self, size: int) -> None:
        """Count ``size`` bytes as pending now, so concurrent associations cannot overshoot."""
        with self._lock:
            if self.max_bytes and self._pending_bytes + size > self.max_bytes:
                raise SpoolFullError(f"spool quota of {self.max_bytes} bytes reached")
            free = shutil.disk_usage(self.root).free
            if free - size < self.min_free_bytes:
                raise SpoolFullError(f"only {free} bytes free on the spool's disk")
            self._pending_bytes += size

    def _unreserve(self, size: int) -> None:
        with self._lock:
            self._pending_bytes = max(0, self._pending_bytes - size)

    def store(self, uid: str, data: bytes) -> bool:
        """Durably spool ``data``; True if new, False for a duplicate (kept as first received).

        Raises :class:`SpoolFullError` when there is no room and ``OSError`` on disk errors.
        """
        if self.is_known(uid):
            return False
        self._reserve(len(data))
        fd, tmp_name = tempfile.mkstemp(dir=self.incoming, prefix=f"{uid}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            with self._lock:
                duplicate = self.is_known(uid)
                if not duplicate:
                    os.rename(tmp, self.pending_path(uid))
            if duplicate:
                tmp.unlink()
                self._unreserve(len(data))
                return False
            fsync_dir(self.pending)
        except BaseException:
            tmp.unlink(missing_ok=True)
            if not self.pending_path(uid).exists():
                self._unreserve(len(data))
            raise
        return True

    def _remove_pending(self, uid: str) -> None:
        try:
            size = self.pending_path(uid).stat().st_size
        except FileNotFoundError:
            size = 0
        self._unreserve(size)

    def mark_done(self, uid: str) -> None:
        """Record that the sink has the film; the pending file goes (or moves to done/)."""
        self._remove_pending(uid)
        source = self.pending_path(uid)
        if self.keep_done_files:
            os.replace(source, self.done / f"{uid}.dcm")
        else:
            write_durable(self.done / uid, b"")
            source.unlink(missing_ok=True)

    def mark_rejected(self, uid: str, reason: str) -> None:
        """Move the instance to rejected/ with its reason (kept for inspection)."""
        self._remove_pending(uid)
        write_durable(
            self.rejected / f"{uid}.reason", reason.encode("utf-8") + b"\n", sync_dir=False
        )
        source = self.pending_path(uid)
        if source.exists():
            os.replace(source, self.rejected / f"{uid}.dcm")
        fsync_dir(self.rejected)

    def quarantine_instance(self, uid: str, reason: str) -> None:
        """Move a pending instance to quarantine/ with its reason; its attempts are forgotten."""
        self._remove_pending(uid)
        self.quarantine.add(uid, self.pending_path(uid), reason)
        self.attempts.clear(uid)

    def release(self, uid: str) -> bool:
        """Move a quarantined instance back to pending/ (processed at the next scan or start)."""
        if self.is_finished(uid) or self.pending_path(uid).exists():
            return False
        released = self.quarantine.release(uid, self.pending_path(uid))
        if released:
            self.attempts.clear(uid)
            with self._lock:
                self._pending_bytes += self.pending_path(uid).stat().st_size
        return released

    def finish_interrupted(self, uid: str) -> bool:
        """Complete a done/rejected transition cut short by a crash; True if it was finished."""
        if (self.done / uid).exists() or (self.done / f"{uid}.dcm").exists():
            self._remove_pending(uid)
            self.pending_path(uid).unlink(missing_ok=True)
            return True
        reason_path = self.rejected / f"{uid}.reason"
        if reason_path.exists():
            self.mark_rejected(uid, reason_path.read_text(encoding="utf-8").strip())
            return True
        return False
