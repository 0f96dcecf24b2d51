"""The `embedding` CXR encoder: a cohort whose films are precomputed foundation-model vectors."""

from __future__ import annotations

import csv
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch

from model import ModelError
from model.cohort import parse_time
from model.predictor import Predictor
from model.schemas import ChestFilm, PatientKey, PatientWindow
from model.training.loop import TrainConfig
from model.training.pipeline import train_from_cohort
from tests.model.conftest import TINY_SPEC


def _to_embeddings(src: Path, dst: Path, dim: int = 12) -> Path:
    shutil.copytree(src, dst)
    rng = np.random.default_rng(0)
    with (dst / "films.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for r in rows:
        vec = rng.normal(0, 1, dim).astype(np.float32)
        name = r["path"].replace(".png", ".npy")
        np.save(dst / name, vec)
        r["path"] = name
    with (dst / "films.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return dst


def test_train_and_serve_with_precomputed_embeddings(tiny_cohort: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cohort = _to_embeddings(tiny_cohort, tmp_path / "emb")
    ckpt = train_from_cohort(
        cohort,
        tmp_path / "emb.pt",
        spec=TINY_SPEC,
        net_overrides={"hidden": 16},
        cfg=TrainConfig(epochs=1, val_fraction=0.34),
    )
    assert ckpt.net_config.cxr_encoder == "embedding"
    assert ckpt.net_config.embedding_dim == 12
    p = Predictor.load(tmp_path / "emb.pt")
    with pytest.raises(ModelError):
        p.embed_film(np.zeros((1, 32, 32), np.float32))
    key = PatientKey(system="urn:test", value="E1")
    now = parse_time("2026-01-06T08:00:00+00:00")
    film = ChestFilm(
        patient_key=key,
        acquired_at=now - timedelta(hours=2),
        sop_instance_uid="1.2.3",
        embedding=tuple(float(v) for v in np.ones(12)),
    )
    r = p.predict(PatientWindow(patient_key=key, as_of=now, films=(film,)))
    assert r.film_sop_instance_uid == "1.2.3"
    assert 0.0 < r.image_weight < 1.0
