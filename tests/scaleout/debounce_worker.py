"""Child process of the shared-debounce test: one API replica seeing part of each data burst.

``python -m tests.scaleout.debounce_worker BACKEND URL PREFIX PATIENTS INDEX PARTIES READY_DIR
DEBOUNCE_S``: at ``start + INDEX * 0.1 s`` it records new data for every patient (``touch``),
then, when its own debounce timer fires, tries to ``claim`` each rescoring; prints the patients
it won (JSON).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cds_app.db.session import make_engine
from cds_app.scaleout.debounce import DbDebounce, DebounceGate, RedisDebounce
from model.schemas import PatientKey
from tests.scaleout.barrier import start_together


def main(argv: list[str]) -> None:
    backend, url, prefix, patients, index, parties, ready_dir, debounce_s = argv
    gate: DebounceGate = (
        DbDebounce(make_engine(url))
        if backend == "db"
        else RedisDebounce(url, name=f"vf-test:{prefix}")
    )
    keys = [
        PatientKey(system=f"urn:test:{prefix}", value=f"MRN{n:04d}") for n in range(int(patients))
    ]
    gate.claim(PatientKey(system=f"urn:test:{prefix}", value="warm-up"), datetime.now(UTC))
    arrive = start_together(Path(ready_dir), int(parties)) + 0.1 * int(index)
    time.sleep(max(0.0, arrive - time.time()))
    due = datetime.now(UTC) + timedelta(seconds=float(debounce_s))
    for key in keys:
        gate.touch(key, due)
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
    won = [key.value for key in keys if gate.claim(key, datetime.now(UTC))]
    sys.stdout.write(json.dumps(won))


if __name__ == "__main__":
    main(sys.argv[1:])
