"""Database engine, migrations and the per-request session dependency."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

#: pg_advisory lock key held while migrating ("VF" + 1).
MIGRATION_LOCK = 0x5646_0001


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite files get WAL and a busy timeout; parent dirs are created."""
    parsed = make_url(url)
    # orjson for JSON columns (drivers, embeddings): several times faster than the stdlib.
    kwargs: dict[str, Any] = {
        "pool_pre_ping": True,
        "json_serializer": lambda value: orjson.dumps(value).decode(),
        "json_deserializer": orjson.loads,
    }
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["pool_pre_ping"] = False
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def _quiet_alembic() -> None:
    """Alembic logs a dozen INFO lines (plugin set-up, context, each revision) at every start;
    :func:`migrate` logs one line of its own instead. Left alone when configured explicitly."""
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET and not log.isEnabledFor(logging.DEBUG):
        alembic_log.setLevel(logging.WARNING)


def alembic_config() -> Config:
    """Alembic configuration pointing at the migrations shipped inside the package."""
    _quiet_alembic()
    from alembic.config import Config

    location = resources.files("cds_app") / "migrations"
    config = Config(str(location / "alembic.ini"))
    config.set_main_option("script_location", str(location))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of ``engine`` to ``revision`` (idempotent; run at start-up)."""
    config = alembic_config()
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together: one migrates, the others wait, then find it done.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        after = MigrationContext.configure(connection).get_current_revision()
    if after != before:
        log.info("database schema migrated from %s to %s", before or "empty", after)


def commit_unless_duplicate(engine: Engine, rows: Sequence[SQLModel]) -> bool:
    """Insert ``rows`` in one transaction; False (nothing stored) if a unique key already exists."""
    with Session(engine) as session:
        session.add_all(rows)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
    return True
