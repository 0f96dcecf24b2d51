"""docs/architecture.md names every module of the adapters and of the composition root."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAP = (ROOT / "docs" / "architecture.md").read_text()
FOLDERS = ("fhir_adapter", "dicom_listener", "cds_app")


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_module_has_its_row(folder: str) -> None:
    modules = sorted(p.name for p in (ROOT / folder).glob("*.py") if p.name != "__init__.py")
    assert modules
    missing = [name for name in modules if f"`{name}`" not in MAP]
    assert not missing, f"{folder}: not in docs/architecture.md: {missing}"


def test_every_named_module_exists() -> None:
    """A module the map names in a package table exists (no row outlives its module)."""
    names = {p.name for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")}
    names |= {p.name for p in (ROOT / "model").rglob("*.py")}
    rows = [line for line in MAP.splitlines() if line.startswith("| `")]
    named = {part.split("`")[1] for line in rows for part in line.split("|")[1].split(",")}
    assert len(named) > 40
    stale = sorted(n for n in named if n.endswith(".py") and n not in names)
    assert not stale, f"docs/architecture.md names modules that do not exist: {stale}"
