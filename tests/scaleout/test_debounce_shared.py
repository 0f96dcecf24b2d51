"""Replicas share the debounce: a burst of data seen by 3 processes gives one rescoring."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cds_app.db.session import make_engine, migrate
from cds_app.scaleout.debounce import DbDebounce, DebounceGate, RedisDebounce, build_debounce_gate
from cds_app.settings import Settings
from model.schemas import PatientKey
from tests.scaleout.conftest import child_env, spawn, wait_all

PROCESSES = 3
PATIENTS = 25
KEY = PatientKey(system="urn:oid:2.16.840.1.113883.4.1.999.1", value="MRN0042")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _semantics(gate: DebounceGate) -> None:
    gate.touch(KEY, T0 + timedelta(seconds=2))
    gate.touch(KEY, T0 + timedelta(seconds=3))  # a later datum pushes the rescoring back
    gate.touch(KEY, T0 + timedelta(seconds=1))  # ... and an earlier due time never pulls it in
    assert not gate.claim(KEY, T0 + timedelta(seconds=2.5))  # the first timer: not yet due
    assert gate.claim(KEY, T0 + timedelta(seconds=3))  # the last timer scores
    assert not gate.claim(KEY, T0 + timedelta(seconds=4))  # once


def test_database_gate_semantics_on_sqlite(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    _semantics(DbDebounce(engine))
    engine.dispose()


@pytest.mark.postgres
def test_database_gate_semantics_on_postgres(pg_engine: Engine) -> None:
    _semantics(DbDebounce(pg_engine))


def test_redis_gate_semantics(redis_url: str) -> None:
    _semantics(RedisDebounce(redis_url, name=f"vf-test:{uuid.uuid4().hex}"))


def test_gate_choice_follows_settings(sqlite_url: str, redis_url: str) -> None:
    engine = make_engine(sqlite_url)
    assert build_debounce_gate(Settings(database_url=sqlite_url), engine) is None
    redis_settings = Settings(database_url=sqlite_url, redis_url=redis_url)
    assert isinstance(build_debounce_gate(redis_settings, engine), RedisDebounce)
    engine.dispose()


def _burst(backend: str, url: str, ready: Path) -> list[list[str]]:
    prefix = uuid.uuid4().hex[:8]
    procs = [
        spawn(
            [
                "-m",
                "tests.scaleout.debounce_worker",
                *(backend, url, prefix, str(PATIENTS), str(index), str(PROCESSES), str(ready)),
                "1.5",
            ],
            child_env(),
        )
        for index in range(PROCESSES)
    ]
    return [json.loads(out) for out in wait_all(procs)]


def _assert_one_rescoring_per_patient(results: list[list[str]]) -> None:
    counts = Counter(value for won in results for value in won)
    assert len(counts) == PATIENTS
    assert set(counts.values()) == {1}
    assert results[-1], "the replica that saw the last datum scores"


@pytest.mark.postgres
def test_three_processes_one_rescoring_per_burst_on_postgres(pg_url: str, tmp_path: Path) -> None:
    _assert_one_rescoring_per_patient(_burst("db", pg_url, tmp_path))


def test_three_processes_one_rescoring_per_burst_on_redis(redis_url: str, tmp_path: Path) -> None:
    _assert_one_rescoring_per_patient(_burst("redis", redis_url, tmp_path))
