"""Training recipes as data: stages that fit the cohort, checkpoint paths, bad recipes named."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import ModelError
from model.training import recipes
from model.training.recipes import auto_arch, recipe_stages, stage_paths


def test_default_recipe_stages_with_and_without_films(tmp_path: Path) -> None:
    with_films = recipe_stages("default", has_films=True)
    assert [(s.name, s.arch, s.warm_start) for s in with_films] == [
        ("ehr_only", "ehr_only", ""),
        ("gated", "gated", "ehr_only"),
    ]
    assert dict(with_films[1].options) == {"arch": "gated", "fusion": "residual", "gate_l1": 0.005}
    assert [s.name for s in recipe_stages("default", has_films=False)] == ["ehr_only"]
    paths = stage_paths(with_films, tmp_path / "out" / "m.pt", tmp_path / "stages")
    assert paths == {
        "ehr_only": tmp_path / "stages" / "ehr_only.pt",
        "gated": tmp_path / "out" / "m.pt",
    }
    assert stage_paths(with_films, tmp_path / "m.pt", None)["ehr_only"] == tmp_path / "ehr_only.pt"
    assert (auto_arch(True), auto_arch(False)) == ("gated", "ehr_only")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"stage": "a", "arch": "gated", "warm_start": "b"}], "not an earlier stage"),
        ([{"stage": "a", "arch": "ehr_only", "lr": 1.0}], "bad options {'lr'}"),
        ([{"stage": "a", "fusion": "residual"}], "bad options"),
    ],
)
def test_bad_recipes_are_named(
    monkeypatch: pytest.MonkeyPatch, entries: list[dict[str, object]], message: str
) -> None:
    monkeypatch.setitem(recipes.RECIPES, "bad", entries)
    with pytest.raises(ModelError, match="recipe 'bad'") as err:
        recipe_stages("bad", has_films=True)
    assert message in str(err.value)


def test_out_is_not_overwritten_by_an_earlier_stage(tmp_path: Path) -> None:
    stages = recipe_stages("default", has_films=True)
    with pytest.raises(ModelError, match="would be overwritten"):
        stage_paths(stages, tmp_path / "ehr_only.pt", tmp_path)
