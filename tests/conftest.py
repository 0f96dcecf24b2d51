"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: ``../shared`` beside the checkout; present on developer machines and CI, never on a user's.
#: ``VENTFUSION_SHARED_DIR`` points elsewhere (a git worktree that is not beside it).
SHARED_DIR = Path(
    os.environ.get("VENTFUSION_SHARED_DIR") or Path(__file__).resolve().parents[1].parent / "shared"
)
REFERENCE_DIR = SHARED_DIR / "reference"


@pytest.fixture
def reference_dir() -> Path:
    """The shared reference files; tests that need them skip cleanly when absent."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip("../shared/reference is not beside this checkout")
    return REFERENCE_DIR


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep a developer's VENTFUSION_* / DATABASE_URL environment out of the tests."""
    for name in list(os.environ):
        if name.startswith("VENTFUSION_") and name != "VENTFUSION_TEST_DATABASE_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
