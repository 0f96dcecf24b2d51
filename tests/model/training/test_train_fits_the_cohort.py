"""Issue 17 surprises 2, 4, 5, 6 and 9: ``ventfusion train`` fits the cohort it is given.

Clear one-line errors for an empty cohort and one without labels; ``--arch auto`` (the default)
trains EHR-only on a cohort without films and says so; the log says which validation AUROC is
which; the model card follows the training data; ``--recipe default`` is the bundled model's
recipe (the same weights as its two commands run by hand) and the rebuild script runs it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from cds_app.cli.main import main
from fhir_adapter.cohort_fhir_export import export_cohort_fhir
from model.checkpoint import load_checkpoint
from model.synth import SynthConfig, simulate
from tests.model.training.cohorts_for_cli import FAST, as_site_data, without_films, without_labels

REPO = Path(__file__).resolve().parents[3]


def _stderr_handlers() -> list[logging.StreamHandler]:  # type: ignore[type-arg]
    return [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]


@pytest.fixture(autouse=True)
def _no_log_into_a_closed_capture() -> Iterator[None]:
    """The CLI's stderr log handler, made in one test, must not write into its closed capture
    in the next one."""
    yield
    for handler in _stderr_handlers():
        handler.stream = sys.__stderr__


def _cli(args: list[str]) -> int:
    for handler in _stderr_handlers():  # logs go into this test's captured stderr
        handler.stream = sys.stderr
    return main(args)


def _train(cohort: Path, out: Path, *extra: str) -> int:
    torch.set_num_threads(1)
    return _cli(["train", "--cohort", str(cohort), "--out", str(out), *FAST, *extra])


def _one_line_error(err: str, expected: str) -> None:
    log_line = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
    lines = [line for line in err.splitlines() if line.strip() and not log_line.match(line)]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("training failed: "), err
    assert expected in lines[0], err


def test_an_empty_cohort_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The empty cohort of a bulk import with the wrong MRN system (surprise 1 -> 2)."""
    simulate(SynthConfig(patients=3, seed=4, film_size=32), tmp_path / "sim")
    export_cohort_fhir(tmp_path / "sim", tmp_path / "ndjson")
    empty = tmp_path / "empty"
    _cli(["fhir-import", str(tmp_path / "ndjson"), str(empty), "--mrn-system", "urn:other"])
    capsys.readouterr()
    assert _train(empty, tmp_path / "m.pt") == 1
    _one_line_error(capsys.readouterr().err, "has no patients: nothing to train on")
    assert not (tmp_path / "m.pt").exists()


def test_a_cohort_without_labels_is_one_clear_error(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = without_labels(tiny_cohort, tmp_path / "unlabelled")
    assert _train(cohort, tmp_path / "m.pt") == 1
    _one_line_error(capsys.readouterr().err, "has no labels: no ventilation start")


def test_auto_trains_ehr_only_without_films_and_explains_both_aurocs(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = without_films(tiny_cohort, tmp_path / "no-films")
    assert _train(cohort, tmp_path / "m.pt") == 0
    out = capsys.readouterr().out
    assert "--arch auto: ehr_only (the cohort has no films)" in out
    assert "stage 1" not in out
    assert load_checkpoint(tmp_path / "m.pt").net_config.arch == "ehr_only"
    # surprise 5: which validation AUROC is which
    assert "on a fixed subsample of at most 6000 validation windows" in out
    assert "val AUROC (early stopping)" in out
    val_windows = load_checkpoint(tmp_path / "m.pt").card.metrics["val_windows"]
    assert f"(calibrated, all {val_windows:.0f} validation windows)" in out


def test_gated_on_a_cohort_without_films_warns(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = without_films(tiny_cohort, tmp_path / "no-films")
    assert _train(cohort, tmp_path / "m.pt", "--arch", "gated", "--epochs", "1") == 0
    assert "warning: --arch gated on a cohort without films" in capsys.readouterr().err


def test_auto_trains_gated_with_films(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tiny_cohort, tmp_path / "m.pt") == 0
    assert "--arch auto: gated (the cohort has films)" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "m.pt").net_config.arch == "gated"


def test_the_card_follows_the_training_data(tiny_cohort: Path, tmp_path: Path) -> None:
    site = as_site_data(tiny_cohort, tmp_path / "site")
    assert _train(site, tmp_path / "site.pt", "--arch", "ehr_only") == 0
    card = load_checkpoint(tmp_path / "site.pt").card
    text = card.to_markdown()
    assert card.synthetic is False
    assert "synthetic patients only" not in text
    assert "- **Data:** site data" in text
    assert "site cohort site-icu-2025" in text
    assert "not validated on other sites" in text
    assert _train(tiny_cohort, tmp_path / "synth.pt", "--arch", "ehr_only") == 0
    synthetic = load_checkpoint(tmp_path / "synth.pt").card.to_markdown()
    assert "Trained and validated on synthetic patients only" in synthetic
    assert "- **Data:** synthetic" in synthetic


def test_recipe_default_is_the_bundled_models_two_commands(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    by_hand = tmp_path / "by-hand"
    by_hand.mkdir()
    # the recipe's EHR-only stage sets its own training length (16 epochs, patience 4)
    stage_one = ["--arch", "ehr_only", "--epochs", "16", "--patience", "4"]
    assert _train(tiny_cohort, by_hand / "ehr_only.pt", *stage_one) == 0
    args = ["--arch", "gated", "--fusion", "residual", "--gate-l1", "0.005"]
    args += ["--ehr-checkpoint", str(by_hand / "ehr_only.pt")]
    assert _train(tiny_cohort, by_hand / "gated.pt", *args) == 0
    recipe = tmp_path / "recipe"
    capsys.readouterr()
    assert _train(tiny_cohort, recipe / "default.pt", "--recipe", "default") == 0
    out = capsys.readouterr().out
    assert "recipe default: ehr_only -> gated" in out
    final = load_checkpoint(recipe / "default.pt")
    expected = load_checkpoint(by_hand / "gated.pt")
    assert final.net_config == expected.net_config
    assert final.net_config.fusion == "residual"
    assert final.train_config["gate_l1"] == 0.005
    assert final.train_config["ehr_warm_start"] == str(recipe / "ehr_only.pt")
    assert final.model_version == expected.model_version  # a hash of every weight
    stage = load_checkpoint(recipe / "ehr_only.pt")
    assert stage.model_version == load_checkpoint(by_hand / "ehr_only.pt").model_version
    assert (stage.train_config["epochs"], stage.train_config["patience"]) == (16, 4)
    assert final.train_config["epochs"] != 16  # the gated stage keeps the command line's


def test_recipe_default_without_films_ends_with_its_ehr_only_stage(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = without_films(tiny_cohort, tmp_path / "no-films")
    assert _train(cohort, tmp_path / "m.pt", "--recipe", "default") == 0
    assert "film stages left out: the cohort has no films" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "m.pt").net_config.arch == "ehr_only"


def test_recipe_options_clash_is_named(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tiny_cohort, tmp_path / "m.pt", "--recipe", "default", "--arch", "gated") == 2
    assert "--recipe default sets --arch itself" in capsys.readouterr().err
    assert _train(tiny_cohort, tmp_path / "m.pt", "--recipe", "fancy") == 1
    assert "unknown recipe 'fancy'" in capsys.readouterr().err


def test_make_model_runs_the_recipe() -> None:
    """bench/rebuild_default_model.sh trains with --recipe default and sets no recipe option
    itself, so `make model` and the recipe cannot drift apart."""
    from model.training.recipes import RECIPES

    script = (REPO / "bench" / "rebuild_default_model.sh").read_text()
    train_lines = [x for x in script.splitlines() if " train " in x or x.strip().startswith("--")]
    assert any("--recipe default" in x for x in train_lines), train_lines
    for option in ("--arch", "--fusion", "--gate-l1", "--ehr-checkpoint"):
        assert option not in script, option
    assert json.dumps(RECIPES["default"][-1], sort_keys=True) == json.dumps(
        {"arch": "gated", "fusion": "residual", "gate_l1": 0.005, "stage": "gated",
         "warm_start": "ehr_only"}, sort_keys=True)  # fmt: skip


def test_an_older_site_card_does_not_claim_synthetic_patients() -> None:
    """A checkpoint card written with the synthetic-only limitation for site data (before the
    limitation followed the data) is shown with the site data's limitation."""
    from model.checkpoint import ModelCard

    stale = "Trained and validated on synthetic patients only; not validated on real patients."
    card = ModelCard("m", "1", "EHR-only", "use", "site cohort x", synthetic=False,
                     limitations=[stale, "Not a medical device."])  # fmt: skip
    text = card.to_markdown()
    assert "synthetic patients only" not in text
    assert "not validated on other sites or prospectively" in text
    assert "- Not a medical device." in text
