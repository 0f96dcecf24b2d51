"""Child process of the shared-spool test: a listener's processing threads on a shared spool.

``python -m tests.scaleout.spool_worker DB_URL SPOOL_DIR OUT_DIR READY_DIR N`` waits until all N
siblings are ready, resumes the spool with database claims (``PgSpoolClaims``), records each film
its sink receives as ``OUT_DIR/<uid>@<pid>`` and exits once the spool is drained.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from cds_app.db.session import make_engine
from cds_app.scaleout.pg_spool_claims import PgSpoolClaims
from dicom_listener.builder import FilmBuilder
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.spool import FileSpool
from dicom_listener.worker import SpoolWorker
from model.schemas import ChestFilm, PatientKey
from tests.dicom_listener.conftest import StatsModel, listener_config
from tests.scaleout.barrier import start_together


class RecordingSink:
    """A FilmSink that leaves one marker file per film it receives (slow, like a DB write)."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def add_film(self, film: ChestFilm) -> None:
        time.sleep(0.01)
        (self.out / f"{film.sop_instance_uid}@{os.getpid()}").write_text(film.patient_key.value)

    def record_rejected_film(self, uid: str, reason: str, patient_key: PatientKey | None) -> None:
        (self.out / f"{uid}@{os.getpid()}.rejected").write_text(reason)


def main(argv: list[str]) -> None:
    db_url, spool_dir, out_dir, ready_dir, parties = argv
    engine = make_engine(db_url)
    config = listener_config(Path(spool_dir))
    worker = SpoolWorker(
        spool=FileSpool(Path(spool_dir)),
        claims=PgSpoolClaims(engine),
        sink=RecordingSink(Path(out_dir)),
        builder=FilmBuilder(config, ModelFilmProcessor(StatsModel())),
        threads=2,
        retry_delay_s=0.2,
    )
    start_together(Path(ready_dir), int(parties))  # all siblings resume the spool at once
    worker.start()
    drained = worker.wait_idle(120)
    worker.stop()
    engine.dispose()
    sys.exit(0 if drained else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
