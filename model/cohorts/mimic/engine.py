"""The DuckDB session of one import: bounded memory, spilling to a scratch folder, clear errors.

DuckDB scans the gzipped CSVs as a stream and applies the item filter while it reads, so the
~300 M rows of ``chartevents`` are never in memory; joins, windows and sorts spill to ``scratch``
beyond ``memory_limit``. docs/benchmarks.md has the measured throughput and peak RSS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from model.cohorts.mimic.errors import MimicImportError

log = logging.getLogger(__name__)


def sql_text(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_list(values: Iterable[object]) -> str:
    """A parenthesised SQL list of ints or strings, e.g. ``(1, 2)`` or ``('a', 'b')``."""
    items = [str(v) if isinstance(v, int) else sql_text(str(v)) for v in values]
    if not items:
        raise ValueError("empty SQL list")
    return "(" + ", ".join(items) + ")"


@dataclass(slots=True)
class Engine:
    """One DuckDB connection on a database file in ``scratch`` (removed by the caller)."""

    con: duckdb.DuckDBPyConnection

    @classmethod
    def open(cls, scratch: Path, *, memory_limit: str, threads: int) -> Engine:
        scratch.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "memory_limit": memory_limit,
            "temp_directory": str(scratch / "spill"),
            "preserve_insertion_order": False,
        }
        if threads > 0:
            config["threads"] = threads
        try:
            con = duckdb.connect(str(scratch / "import.duckdb"), config=config)
        except duckdb.Error as exc:
            raise MimicImportError(f"cannot start the import engine: {exc}") from exc
        return cls(con)

    def run(self, stage: str, sql: str, params: Sequence[object] = ()) -> None:
        """Execute one statement; DuckDB errors become MimicImportError naming the stage."""
        started = time.perf_counter()
        try:
            self.con.execute(sql, list(params))
        except duckdb.Error as exc:
            raise MimicImportError(f"{stage} failed: {exc}") from exc
        log.info("%s: %.1f s", stage, time.perf_counter() - started)

    def rows(self, stage: str, sql: str) -> list[tuple[Any, ...]]:
        """Execute a query and fetch its (small) result."""
        try:
            return self.con.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise MimicImportError(f"{stage} failed: {exc}") from exc

    def scalar(self, stage: str, sql: str) -> int:
        found = self.rows(stage, sql)
        return int(found[0][0] or 0) if found else 0

    def table(self, name: str, columns: str, rows: Iterable[Sequence[object]]) -> None:
        """Create a small lookup table from Python rows (item maps, ranges)."""
        self.run(f"create {name}", f"CREATE OR REPLACE TABLE {name} ({columns})")
        data = [list(r) for r in rows]
        if data:
            marks = ", ".join("?" for _ in data[0])
            try:
                self.con.executemany(f"INSERT INTO {name} VALUES ({marks})", data)
            except duckdb.Error as exc:
                raise MimicImportError(f"fill {name} failed: {exc}") from exc

    def close(self) -> None:
        self.con.close()
