"""Listener processes sharing one DICOM spool process each film exactly once (PostgreSQL claims)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cds_app.scaleout.pg_spool_claims import PgSpoolClaims
from dicom_listener.spool import FileSpool
from tests.dicom_listener.films import make_film
from tests.scaleout.conftest import child_env, spawn, wait_all

pytestmark = pytest.mark.postgres

FILMS = 60
PROCESSES = 3


def test_claim_lifecycle_between_two_holders(pg_engine: Engine) -> None:
    a = PgSpoolClaims(pg_engine, holder="listener-a")
    b = PgSpoolClaims(pg_engine, holder="listener-b")
    uid = "1.2.826.0.1.3680043.8.498.10001"
    assert a.try_claim(uid)
    assert not b.try_claim(uid)  # held by a
    a.release(uid)  # transient failure: anyone may retry
    assert b.try_claim(uid)
    assert not a.try_claim(uid)
    b.release(uid)
    assert a.try_claim(uid)
    a.complete(uid)
    assert a.status(uid) == "done"
    assert not b.try_claim(uid)
    assert not a.try_claim(uid)
    assert a.purge_done(timedelta(0)) == 1
    assert a.status(uid) is None


def test_an_expired_lease_of_a_dead_holder_can_be_taken_over(pg_engine: Engine) -> None:
    # a lease long enough for two round trips on a loaded machine (0.05 s was not)
    dead = PgSpoolClaims(pg_engine, holder="crashed", lease_s=1.0)
    alive = PgSpoolClaims(pg_engine, holder="alive")
    uid = "1.2.826.0.1.3680043.8.498.10002"
    assert dead.try_claim(uid)
    assert not alive.try_claim(uid)
    time.sleep(1.1)
    assert alive.try_claim(uid)
    dead.complete(uid)  # the late holder cannot settle a claim it lost
    assert alive.status(uid) == "claimed"


def test_three_listener_processes_share_one_spool(
    pg_url: str, pg_engine: Engine, tmp_path: Path
) -> None:
    spool = FileSpool(tmp_path / "spool")
    films = tmp_path / "films"
    films.mkdir()
    uids = []
    for index in range(FILMS):
        uid = f"1.2.826.0.1.3680043.8.498.2{index:05d}"
        path = make_film(
            films / f"{index}.dcm",
            size=96,
            patient_id=f"MRN-{index % 12:05d}",
            sop_instance_uid=uid,
            seed=index,
        )
        assert spool.store(uid, path.read_bytes())
        uids.append(uid)
    out = tmp_path / "out"
    out.mkdir()
    ready = tmp_path / "ready"
    ready.mkdir()
    args = [pg_url, str(tmp_path / "spool"), str(out), str(ready), str(PROCESSES)]
    procs = [
        spawn(["-m", "tests.scaleout.spool_worker", *args], child_env()) for _ in range(PROCESSES)
    ]
    wait_all(procs, timeout_s=120)

    received = [name.split("@") for name in (p.name for p in out.iterdir())]
    per_uid = Counter(uid for uid, _ in received)
    assert per_uid == Counter(uids)  # every film reached a sink exactly once
    assert not spool.pending_uids()
    workers = {pid for _, pid in received}
    assert len(workers) >= 2  # the processes did share the work
    claims = PgSpoolClaims(pg_engine)
    assert {claims.status(uid) for uid in uids} == {"done"}
