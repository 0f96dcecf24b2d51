"""EHR warm start: the gated model's EHR path is the EHR-only model's, frozen, so a window
without a film scores exactly as the EHR-only model (raw logits, before calibration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model import ModelError
from model.checkpoint import load_checkpoint
from model.cohort import read_cohort
from model.features.dataset import build_windows
from model.training.batches import score_windows
from model.training.loop import TrainConfig
from model.training.pipeline import train_from_cohort
from tests.model.conftest import TINY_SPEC

SMALL = {"hidden": 16, "cxr_dim": 16, "cnn_width": 8}


def _cfg(**kw: object) -> TrainConfig:
    base = {"epochs": 1, "film_epochs": 1, "val_fraction": 0.34, "batch_size": 128, "seed": 3}
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ehr_only(tiny_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("warm") / "ehr_only.pt"
    train_from_cohort(
        tiny_cohort, out, spec=TINY_SPEC, net_overrides={**SMALL, "arch": "ehr_only"}, cfg=_cfg()
    )
    return out


def test_no_film_windows_score_exactly_as_the_ehr_only_model(
    tiny_cohort: Path, ehr_only: Path, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    gated = train_from_cohort(
        tiny_cohort,
        tmp_path / "gated.pt",
        spec=TINY_SPEC,
        net_overrides={**SMALL, "fusion": "residual"},
        cfg=_cfg(ehr_warm_start=str(ehr_only)),
    )
    source = load_checkpoint(ehr_only)
    reloaded = load_checkpoint(tmp_path / "gated.pt")
    assert reloaded.net_config.fusion == "residual"
    for name, value in source.state_dict.items():
        if name.startswith(("ehr.", "head.")):
            assert torch.equal(value, reloaded.state_dict[name]), name
    assert reloaded.normalisation == source.normalisation

    windows = build_windows(read_cohort(tiny_cohort), TINY_SPEC)
    rows = np.arange(len(windows), dtype=np.int64)
    g = score_windows(gated.build_net(), windows, rows, reloaded.normalisation)
    e = score_windows(source.build_net(), windows, rows, source.normalisation)
    no_film = g.gate == 0.0
    assert no_film.any()
    assert (~no_film).any()
    np.testing.assert_array_equal(g.logit[no_film], e.logit[no_film])
    np.testing.assert_array_equal(g.logit_ehr, e.logit)
    assert not np.array_equal(g.logit[~no_film], e.logit[~no_film])


def test_warm_start_refuses_an_ehr_model_from_another_split(
    tiny_cohort: Path, ehr_only: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    with pytest.raises(ModelError, match="same patient split"):
        train_from_cohort(
            tiny_cohort,
            tmp_path / "gated.pt",
            spec=TINY_SPEC,
            net_overrides={**SMALL, "fusion": "residual"},
            cfg=_cfg(seed=4, ehr_warm_start=str(ehr_only)),
        )
    with pytest.raises(ModelError, match="ehr_only checkpoint"):
        train_from_cohort(
            tiny_cohort,
            tmp_path / "g2.pt",
            spec=TINY_SPEC,
            net_overrides={**SMALL, "fusion": "residual"},
            cfg=_cfg(ehr_warm_start=str(tiny_checkpoint)),
        )
