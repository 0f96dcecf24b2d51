"""A seeded synthetic cohort shared by the simulator tests (rendered at a small film size)."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.cohort import Cohort, read_cohort
from model.synth import SynthConfig, SynthSummary, simulate

COHORT_PATIENTS = 400
COHORT_SEED = 11


@pytest.fixture(scope="session")
def synth_cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cohort, SynthSummary]:
    """400 synthetic patients with 64-px films (a few seconds)."""
    out = tmp_path_factory.mktemp("synth") / "cohort"
    summary = simulate(SynthConfig(patients=COHORT_PATIENTS, seed=COHORT_SEED, film_size=64), out)
    return read_cohort(out), summary


@pytest.fixture
def cohort_root(synth_cohort: tuple[Cohort, SynthSummary]) -> Path:
    return synth_cohort[0].root
