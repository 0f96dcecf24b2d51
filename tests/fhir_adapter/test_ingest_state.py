"""The in-memory state stores; versions compare numerically (the DB stores: test_fhir_state)."""

from __future__ import annotations

from fhir_adapter.ingest_state import (
    CursorStore,
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
