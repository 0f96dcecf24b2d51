"""The JWT ``jti`` replay cache is shared by API processes (PostgreSQL, or Redis)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.scaleout.conftest import child_env, spawn, wait_all

PROCESSES = 3
JTIS = 120


def _race(backend: str, url: str, ready: Path) -> list[list[str]]:
    """Every process offers the same jti's at the same moment; returns what each accepted."""
    iss = f"https://ehr.example.org/{uuid.uuid4().hex[:8]}"
    args = [backend, url, iss, str(JTIS)]
    procs = [
        spawn(
            ["-m", "tests.scaleout.replay_worker", *args, str(seed), str(ready), str(PROCESSES)],
            child_env(),
        )
        for seed in range(PROCESSES)
    ]
    return [json.loads(out) for out in wait_all(procs)]


def _assert_each_jti_accepted_once(results: list[list[str]]) -> None:
    counts = Counter(jti for accepted in results for jti in accepted)
    assert len(counts) == JTIS
    # A process-local cache would accept every jti in every process (count 3).
    assert set(counts.values()) == {1}


@pytest.mark.postgres
def test_a_jti_accepted_by_one_process_is_refused_by_the_others_on_postgres(
    pg_url: str, tmp_path: Path
) -> None:
    _assert_each_jti_accepted_once(_race("db", pg_url, tmp_path))


def test_a_jti_accepted_by_one_process_is_refused_by_the_others_on_redis(
    redis_url: str, tmp_path: Path
) -> None:
    _assert_each_jti_accepted_once(_race("redis", redis_url, tmp_path))
