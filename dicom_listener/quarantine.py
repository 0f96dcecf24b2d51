"""Poison instances: attempts recorded before decoding, quarantine after too many failures.

Layout under the spool directory::

    attempts/    <uid>.json   processing attempts so far, written (fsynced) before each decode
    quarantine/  <uid>.dcm    an instance whose processing failed or crashed too often
                 <uid>.reason why, with the number of attempts

A marker still "in progress" when the listener starts means the last attempt never finished:
the listener (or the machine) died while that instance was being processed. It counts as a
failed attempt, so a file that crashes whatever processes it is quarantined instead of being
retried at every start.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dicom_listener.durable import fsync_dir, write_durable

INTERRUPTED = "processing was interrupted (the listener stopped or crashed while decoding it)"


@dataclass(frozen=True)
class Attempts:
    """Processing attempts of one spooled instance."""

    count: int = 0
    reason: str = ""  # of the last failure
    in_progress: bool = False


class AttemptLog:
    """The ``attempts/`` markers (one JSON file per instance being retried)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, uid: str) -> Path:
        return self.folder / f"{uid}.json"

    def read(self, uid: str) -> Attempts:
        """The attempts so far (none when there is no marker or it is unreadable)."""
        try:
            raw = json.loads(self._path(uid).read_text(encoding="utf-8"))
            return Attempts(int(raw["count"]), str(raw["reason"]), bool(raw["in_progress"]))
        except (OSError, ValueError, KeyError, TypeError):
            return Attempts()

    def _write(self, uid: str, attempts: Attempts) -> Attempts:
        record = {
            "count": attempts.count,
            "reason": attempts.reason,
            "in_progress": attempts.in_progress,
            "updated": datetime.now(UTC).isoformat(),
        }
        write_durable(self._path(uid), json.dumps(record).encode("utf-8"))
        return attempts

    def begin(self, uid: str) -> Attempts:
        """Count one more attempt, durably, before the instance is decoded."""
        previous = self.read(uid)
        return self._write(uid, Attempts(previous.count + 1, previous.reason, True))

    def failed(self, uid: str, reason: str) -> Attempts:
        """The attempt in progress failed for ``reason``."""
        return self._write(uid, Attempts(self.read(uid).count, reason, False))

    def abandon(self, uid: str) -> None:
        """The attempt in progress does not count (the listener is stopping)."""
        previous = self.read(uid)
        if previous.count <= 1:
            self.clear(uid)
        else:
            self._write(uid, Attempts(previous.count - 1, previous.reason, False))

    def clear(self, uid: str) -> None:
        """The instance was processed (or released): forget its attempts."""
        self._path(uid).unlink(missing_ok=True)


@dataclass(frozen=True)
class QuarantinedInstance:
    """One entry of ``quarantine/``."""

    sop_instance_uid: str
    reason: str
    size: int
    since: datetime


class Quarantine:
    """The ``quarantine/`` folder: list, add, release."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, uid: str) -> Path:
        """Where a quarantined instance lies."""
        return self.folder / f"{uid}.dcm"

    def holds(self, uid: str) -> bool:
        """True when the instance is in quarantine."""
        return self.path(uid).exists()

    def add(self, uid: str, source: Path, reason: str) -> None:
        """Move ``source`` here with its reason (the reason first: a crash leaves both or one)."""
        write_durable(self.folder / f"{uid}.reason", reason.encode("utf-8") + b"\n")
        if source.exists():
            os.replace(source, self.path(uid))
        fsync_dir(self.folder)

    def entries(self) -> list[QuarantinedInstance]:
        """Every quarantined instance, oldest first."""
        found = []
        for path in self.folder.glob("*.dcm"):
            uid = path.stem
            try:
                stat = path.stat()
                reason = (self.folder / f"{uid}.reason").read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                reason = "(no reason recorded)"
                if not path.exists():
                    continue
                stat = path.stat()
            since = datetime.fromtimestamp(stat.st_mtime, UTC)
            found.append(QuarantinedInstance(uid, reason, stat.st_size, since))
        return sorted(found, key=lambda entry: entry.since)

    def release(self, uid: str, pending: Path) -> bool:
        """Move the instance back to ``pending``; False when it is not in quarantine."""
        source = self.path(uid)
        if not source.exists():
            return False
        os.replace(source, pending)
        fsync_dir(pending.parent)
        (self.folder / f"{uid}.reason").unlink(missing_ok=True)
        return True
