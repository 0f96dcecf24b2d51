"""Fixtures of the scale-out tests: a fresh PostgreSQL schema at head, several OS processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from cds_app.db.session import make_engine, migrate

PG_ENV = "VENTFUSION_TEST_DATABASE_URL"
REDIS_ENV = "VENTFUSION_TEST_REDIS_URL"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL server, migrated to head (dropped afterwards)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    schema = f"vf_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(base, schema)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """An engine on the fresh schema."""
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An SQLite file database (single-process behaviour)."""
    return f"sqlite:///{tmp_path / 'vf.sqlite3'}"


@pytest.fixture
def redis_url() -> str:
    """The test Redis (``VENTFUSION_TEST_REDIS_URL`` or a local one); skip when unreachable."""
    url = os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379/15")
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
    except OSError:
        pytest.skip(f"no Redis at {url}")
    return url


def child_env(**extra: str) -> dict[str, str]:
    """Environment of a child process: no developer VENTFUSION_* settings, repo on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENTFUSION_")}
    env.pop("DATABASE_URL", None)
    env["PYTHONPATH"] = str(REPO_ROOT)
    # one deployment, one pseudonym key (required outside the embedded default)
    env["VENTFUSION_SECURITY__PSEUDONYM_KEY"] = "scale-out-test-pseudonym-key-0123456789"
    env.update(extra)
    return env


def spawn(args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``python <args>`` in the repository root as a separate OS process."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_all(procs: Sequence[subprocess.Popen[str]], timeout_s: float = 60) -> list[str]:
    """Wait for every worker process; each must exit 0. Returns their standard outputs."""
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout_s)
        assert proc.returncode == 0, err[-3000:]
        outputs.append(out)
    return outputs
