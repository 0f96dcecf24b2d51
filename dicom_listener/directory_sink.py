"""A FilmSink that writes processed films to a directory (standalone listener, tests, demos).

Layout: ``films/<uid>.json`` (metadata + embedding), ``films/<uid>.npy`` (pixels (1,S,S)),
``films/<uid>.png`` (thumbnail), ``rejected/<uid>.json`` (reason), and ``sink.log`` with one line
per call (``added|duplicate|rejected <uid>``) for auditing.
"""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path

import numpy as np

from dicom_listener.durable import write_durable
from model.schemas import ChestFilm, PatientKey


def _write_atomic(path: Path, data: bytes) -> None:
    write_durable(path, data, sync_dir=False)


class DirectoryFilmSink:
    """Stores films as files; idempotent on SOP Instance UID; thread-safe."""

    def __init__(self, root: Path) -> None:
        self.films = root / "films"
        self.rejected = root / "rejected"
        self.log_path = root / "sink.log"
        self.films.mkdir(parents=True, exist_ok=True)
        self.rejected.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _audit(self, line: str) -> None:
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def add_film(self, film: ChestFilm) -> bool:
        """Write the film's files; False when this SOP Instance UID is already stored."""
        uid = film.sop_instance_uid
        meta_path = self.films / f"{uid}.json"
        with self._lock:
            if meta_path.exists():
                self._audit(f"duplicate {uid}")
                return False
            if film.pixels is not None:
                buffer = io.BytesIO()
                np.save(buffer, film.pixels.astype(np.float32))
                _write_atomic(self.films / f"{uid}.npy", buffer.getvalue())
            if film.thumbnail_png is not None:
                _write_atomic(self.films / f"{uid}.png", film.thumbnail_png)
            meta = film.model_dump(mode="json", exclude={"pixels", "thumbnail_png"})
            _write_atomic(meta_path, json.dumps(meta, indent=1).encode("utf-8"))
            self._audit(f"added {uid}")
        return True

    def record_rejected_film(
        self, sop_instance_uid: str, reason: str, patient_key: PatientKey | None
    ) -> None:
        """Write the reason an instance is not scored."""
        record = {
            "sop_instance_uid": sop_instance_uid,
            "reason": reason,
            "patient_key": str(patient_key) if patient_key else None,
        }
        with self._lock:
            _write_atomic(
                self.rejected / f"{sop_instance_uid}.json", json.dumps(record).encode("utf-8")
            )
            self._audit(f"rejected {sop_instance_uid}")

    def added_uids(self) -> list[str]:
        """SOP Instance UIDs stored so far."""
        return sorted(p.stem for p in self.films.glob("*.json"))

    def rejected_reasons(self) -> dict[str, str]:
        """SOP Instance UID -> reason, for instances not scored."""
        out: dict[str, str] = {}
        for path in self.rejected.glob("*.json"):
            out[path.stem] = str(json.loads(path.read_text(encoding="utf-8"))["reason"])
        return out
