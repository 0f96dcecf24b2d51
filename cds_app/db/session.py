"""Database engine, migrations and the per-request session dependency."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic_core import PydanticUndefined
from sqlalchemy import Connection, Engine, Table, create_engine, event, insert, text
from sqlalchemy import Insert as InsertStatement
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

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


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a ``table=True`` model."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


@dataclass(frozen=True, slots=True)
class NewRow:
    """The column values of one row to insert with Core, Python-side defaults applied: what
    inserting the ORM row would write, without building one (a table model's constructor costs
    more than the insert)."""

    table: Table
    values: dict[str, Any]


#: A row to insert: an ORM row or its column values.
Insert = SQLModel | NewRow


def new_row(model: type[SQLModel], **values: Any) -> NewRow:
    """The row of ``model`` with ``values``; a column not given gets the field's default (its
    factory called), a primary key without a default is left to the database."""
    for name, default in _defaults(model):
        if name not in values:
            values[name] = default()
    return NewRow(table_of(model), values)


@cache
def _defaults(model: type[SQLModel]) -> tuple[tuple[str, Callable[[], Any]], ...]:
    out: list[tuple[str, Callable[[], Any]]] = []
    for column in table_of(model).columns:
        field = model.model_fields[column.key]
        if field.default_factory is not None:
            out.append((column.key, field.default_factory))  # type: ignore[arg-type]
        elif field.default is not PydanticUndefined and not (
            column.primary_key and field.default is None
        ):
            out.append((column.key, partial(_constant, field.default)))
    return tuple(out)


def _constant(value: Any) -> Any:
    return value


def row_values(row: SQLModel) -> dict[str, Any]:
    """The column values of an ORM row, for a Core insert (a None primary key is left to the
    database; Python-side defaults were applied when the row was built)."""
    return {
        c.key: value
        for c in table_of(type(row)).columns
        if (value := getattr(row, c.key)) is not None or not c.primary_key
    }


def insert_rows(connection: Connection, rows: Sequence[Insert]) -> None:
    """Insert ``rows`` with Core inside the caller's transaction: one (executemany) INSERT per
    table, tables in the order they first appear (no ORM unit of work, no identity map)."""
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for row in rows:
        if isinstance(row, NewRow):
            by_table.setdefault(row.table, []).append(row.values)
        else:
            by_table.setdefault(table_of(type(row)), []).append(row_values(row))
    for table, values in by_table.items():
        connection.execute(insert_into(table), values)


@cache
def insert_into(table: Table) -> InsertStatement:
    """The ``INSERT`` of ``table``, built once (its cache key is memoised with it)."""
    return insert(table)


@contextmanager
def reading(engine: Engine, connection: Connection | None) -> Iterator[Connection]:
    """``connection`` when the caller holds one (a call's reads and writes on one connection,
    in its transaction), else a connection of ``engine`` for this read alone."""
    if connection is not None:
        yield connection
        return
    with engine.connect() as own:
        yield own


@contextmanager
def writing(engine: Engine, connection: Connection | None) -> Iterator[Connection]:
    """``connection`` when the caller holds one (it commits), else a transaction of ``engine``
    committed on exit."""
    if connection is not None:
        yield connection
        return
    with engine.begin() as own:
        yield own


def commit_unless_duplicate(engine: Engine, rows: Sequence[Insert]) -> bool:
    """Insert ``rows`` in one transaction; False (nothing stored) if a unique key already exists."""
    try:
        with engine.begin() as connection:
            insert_rows(connection, rows)
    except IntegrityError:
        return False
    return True
