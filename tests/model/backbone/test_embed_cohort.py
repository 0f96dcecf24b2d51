"""`ventfusion embed-films`: a cohort embedded once, resumable, cached per film and backbone."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from cds_app.cli.main import main
from model import ModelError
from model.backbone.cohort import embed_cohort
from model.backbone.runtime import Backbone
from model.checkpoint import load_checkpoint
from model.cohort import read_cohort
from model.features.films import load_films
from tests.model.cohort_factory import write_tiny_cohort
from tests.support.backbones import DIM, BackboneFiles


class InterruptError(Exception):
    pass


@pytest.fixture
def cohort(tmp_path: Path) -> Path:
    return write_tiny_cohort(tmp_path / "tiny", n_patients=6, seed=5)


def test_the_embedded_cohort_trains_an_embedding_model_that_records_the_backbone(
    backbone_cohort: Path, backbone_checkpoint: Path, test_backbones: BackboneFiles
) -> None:
    embedded = read_cohort(backbone_cohort)
    source = read_cohort(Path(str(embedded.meta["embedded_from"])))
    assert [f.sop_instance_uid for f in embedded.films] == [
        f.sop_instance_uid for f in source.films
    ]
    assert len(embedded.m_key) == len(source.m_key)  # the other files come along
    vector = np.load(backbone_cohort / embedded.films[0].path)
    assert vector.shape == (DIM,)
    assert vector.dtype == np.float32
    identity = Backbone.load(test_backbones.onnx).identity
    ckpt = load_checkpoint(backbone_checkpoint)
    assert ckpt.net_config.cxr_encoder == "embedding"
    assert ckpt.net_config.embedding_dim == DIM
    assert ckpt.backbone == identity
    assert "test-densenet121 v1" in ckpt.card.architecture
    assert ckpt.applicability is not None
    assert ckpt.applicability.film is not None
    assert set(ckpt.applicability.film.groups) == {"embedding"}  # from the training embeddings


def test_a_rerun_uses_the_cache_and_another_backbone_embeds_again(
    cohort: Path, test_backbones: BackboneFiles, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    onnx = Backbone.load(test_backbones.onnx)
    first = embed_cohort(cohort, onnx, out, batch_size=4)
    n = first.films
    assert n > 0
    assert (first.embedded, first.cached, first.failed) == (n, 0, [])
    again = embed_cohort(cohort, onnx, out, batch_size=4)
    assert (again.embedded, again.cached) == (0, n)
    other = embed_cohort(cohort, Backbone.load(test_backbones.other), out, batch_size=4)
    assert (other.embedded, other.cached) == (n, 0)  # the cache is keyed by the backbone
    meta = json.loads((out / "cohort.json").read_text())
    assert meta["backbone"]["name"] == "other-densenet121"
    films = read_cohort(out).films
    assert all(f.path.startswith(f"embeddings/{other.backbone.key}/") for f in films)
    back = embed_cohort(cohort, onnx, out, batch_size=4)
    assert (back.embedded, back.cached) == (0, n)  # each backbone keeps its own vectors


def test_an_interrupted_run_resumes_and_a_changed_film_is_embedded_again(
    cohort: Path, test_backbones: BackboneFiles, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    onnx = Backbone.load(test_backbones.onnx)
    seen: list[int] = []

    def stop_after_five(done: int, total: int) -> None:
        seen.append(done)
        if done == 5:
            raise InterruptError

    with pytest.raises(InterruptError):
        embed_cohort(cohort, onnx, out, batch_size=4, progress=stop_after_five)
    resumed = embed_cohort(cohort, onnx, out, batch_size=4, progress=lambda d, t: seen.append(d))
    # every film finished before the interruption is kept; the rest is embedded now
    assert resumed.cached == 5
    assert resumed.embedded == resumed.films - 5
    assert seen[-1] == resumed.films
    # touch one film (same pixels, new time): the content hash says it is unchanged
    films = read_cohort(cohort).films
    first = cohort / films[0].path
    os.utime(first, ns=(1, 1))
    assert embed_cohort(cohort, onnx, out).cached == resumed.films
    index = (out / "embeddings" / onnx.identity.key / "index.jsonl").read_text()
    assert '"mtime_ns": 1,' in index  # the new time is recorded: no hashing next time
    stacked = load_films(read_cohort(out), 32)  # training's cache of the stacked vectors
    # new pixels: that film (only) is embedded again
    second = cohort / films[1].path
    second.write_bytes((cohort / films[2].path).read_bytes())
    rerun = embed_cohort(cohort, onnx, out)
    assert (rerun.embedded, rerun.cached) == (1, resumed.films - 1)
    vectors = {f.sop_instance_uid: np.load(out / f.path) for f in read_cohort(out).films}
    assert np.array_equal(vectors[films[1].sop_instance_uid], vectors[films[2].sop_instance_uid])
    restacked = load_films(read_cohort(out), 32)  # not the stale stack of before
    row = restacked.uids.index(films[1].sop_instance_uid)
    assert np.array_equal(restacked.data[row], vectors[films[1].sop_instance_uid])
    assert not np.array_equal(stacked.data[row], restacked.data[row])


def test_unreadable_films_are_reported_and_left_out(
    cohort: Path, test_backbones: BackboneFiles, tmp_path: Path
) -> None:
    films = read_cohort(cohort).films
    (cohort / films[0].path).write_bytes(b"not a png")
    (cohort / films[1].path).unlink()
    report = embed_cohort(cohort, Backbone.load(test_backbones.onnx), tmp_path / "out")
    assert {uid for uid, _ in report.failed} == {
        films[0].sop_instance_uid,
        films[1].sop_instance_uid,
    }
    kept = {f.sop_instance_uid for f in read_cohort(tmp_path / "out").films}
    assert kept == {f.sop_instance_uid for f in films[2:]}


def test_outputs_that_would_lose_data_are_refused(
    cohort: Path, test_backbones: BackboneFiles, tmp_path: Path
) -> None:
    onnx = Backbone.load(test_backbones.onnx)
    with pytest.raises(ModelError, match="new directory"):
        embed_cohort(cohort, onnx, cohort)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ModelError, match="not empty"):
        embed_cohort(cohort, onnx, busy)
    embed_cohort(cohort, onnx, tmp_path / "a")
    with pytest.raises(ModelError, match="already embeddings"):
        embed_cohort(tmp_path / "a", onnx, tmp_path / "b")
    other = write_tiny_cohort(tmp_path / "other", n_patients=2, seed=1)
    with pytest.raises(ModelError, match="another cohort"):
        embed_cohort(other, onnx, tmp_path / "a")


def test_training_an_embedding_model_on_image_films_says_what_to_do(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--cohort", str(cohort), "--out", str(tmp_path / "m.pt"),
                 "--cxr-encoder", "embedding", "--epochs", "1", "--threads", "1"])  # fmt: skip
    assert code == 1
    assert "ventfusion embed-films" in capsys.readouterr().err


def test_the_cli_embeds_with_progress_and_resumes(
    cohort: Path, test_backbones: BackboneFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["embed-films", "--cohort", str(cohort), "--backbone", str(test_backbones.onnx),
            "--batch-size", "4"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "embedding films (test-densenet121 v1)" in out
    n = len(read_cohort(cohort).films)
    assert f"{n} films: {n} embedded, 0 from the cache" in out
    target = cohort.with_name("tiny-test-densenet121-1")
    assert (target / "cohort.json").exists()
    assert main(args) == 0
    assert f"{n} films: 0 embedded, {n} from the cache" in capsys.readouterr().out
    with (target / "films.csv").open() as handle:
        assert all(r["path"].endswith(".npy") for r in csv.DictReader(handle))
    assert main(["check-backbone", str(test_backbones.onnx)]) == 0
    checked = capsys.readouterr().out
    assert "sha256" in checked
    assert "verified" in checked
    assert "32-d output" in checked
    bad = tmp_path / "bad.json"
    bad.write_text(test_backbones.onnx.read_text().replace('"sha256": "', '"sha256": "0', 1)[:-1])
    assert main(["check-backbone", str(bad)]) == 2
