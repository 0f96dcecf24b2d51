"""The simple state stores: versions compare numerically, file cursors survive a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fhir_adapter.stores import (
    CursorStore,
    FileCursorStore,
    MemoryCursorStore,
    MemorySeenStore,
    SeenStore,
    version_is_newer,
)


def test_version_order() -> None:
    assert version_is_newer("1", None)
    assert version_is_newer("10", "9")  # numeric, not lexical
    assert not version_is_newer("9", "10")
    assert not version_is_newer("3", "3")
    assert version_is_newer("W/abc", "W/abd")  # opaque ids: any change is news


def test_memory_seen_store_answers_only_the_refs_seen() -> None:
    seen: SeenStore = MemorySeenStore()
    assert seen.versions_of([]) == {}
    seen.remember({"Observation/1": "2", "Observation/3": "1"})
    seen.remember({"Observation/1": "4"})
    assert seen.versions_of(["Observation/1", "Observation/2"]) == {"Observation/1": "4"}
    cursors: CursorStore = MemoryCursorStore()
    assert cursors.get("observation-poll") is None


def test_file_cursor_store_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "cursors.json"
    stamp = datetime(2026, 3, 1, 10, 30, 15, 123000, tzinfo=UTC)
    store = FileCursorStore(path)
    assert store.get("observation-poll") is None
    store.set("observation-poll", stamp)
    store.set("backfill:Patient/p1", stamp)
    reopened = FileCursorStore(path)
    assert isinstance(reopened, CursorStore)
    assert reopened.get("observation-poll") == stamp
    assert reopened.get("backfill:Patient/p1") == stamp
    assert not path.with_suffix(".json.tmp").exists()
