from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from model.synth import SynthConfig, SynthError, simulate


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_output_whatever_the_worker_count(tmp_path: Path) -> None:
    first = simulate(SynthConfig(patients=30, seed=5, film_size=48), tmp_path / "a")
    second = simulate(SynthConfig(patients=30, seed=5, film_size=48, workers=2), tmp_path / "b")
    assert first == second
    digest_a, digest_b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert any(name.endswith(".png") for name in digest_a)
    assert digest_a == digest_b


def test_another_seed_gives_another_cohort(tmp_path: Path) -> None:
    simulate(SynthConfig(patients=10, seed=1, film_size=48), tmp_path / "a")
    simulate(SynthConfig(patients=10, seed=2, film_size=48), tmp_path / "b")
    a = (tmp_path / "a" / "measurements.csv").read_bytes()
    b = (tmp_path / "b" / "measurements.csv").read_bytes()
    assert a != b


def test_a_patient_does_not_depend_on_the_cohort_size(tmp_path: Path) -> None:
    simulate(SynthConfig(patients=3, seed=9, render_films=False), tmp_path / "small")
    simulate(SynthConfig(patients=8, seed=9, render_films=False), tmp_path / "large")
    small = (tmp_path / "small" / "patients.csv").read_text().splitlines()
    large = (tmp_path / "large" / "patients.csv").read_text().splitlines()
    assert large[: len(small)] == small


def test_refuses_to_overwrite_a_cohort(tmp_path: Path) -> None:
    simulate(SynthConfig(patients=2, seed=0, render_films=False), tmp_path)
    with pytest.raises(SynthError, match="already holds a cohort"):
        simulate(SynthConfig(patients=2, seed=0, render_films=False), tmp_path)


@pytest.mark.parametrize(
    "kwargs", [{"patients": 0}, {"film_size": 8}, {"workers": 0}, {"mrn_system": ""}]
)
def test_rejects_impossible_configs(kwargs: dict[str, object]) -> None:
    with pytest.raises(SynthError):
        SynthConfig(**kwargs)  # type: ignore[arg-type]


def test_progress_is_reported_per_chunk(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    simulate(
        SynthConfig(patients=60, seed=0, render_films=False),
        tmp_path,
        on_progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (60, 60)
    assert len(calls) > 1
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
