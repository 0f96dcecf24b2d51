"""Serving a model trained on a film backbone: the film's embedding is used only when that very
backbone made it; otherwise the film is not used (gate 0, EHR path) and the reason says why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from model import ModelError
from model.applicability.wording import film_not_used_text
from model.backbone.runtime import Backbone
from model.cohort import parse_time
from model.predictor import Predictor
from model.schemas import ChestFilm, FilmNotUsedReason, Measurement, PatientKey, PatientWindow
from tests.support.backbones import BackboneFiles, typical_training_film

KEY = PatientKey(system="urn:test", value="B1")
NOW = parse_time("2026-01-06T08:00:00+00:00")


@pytest.fixture(scope="module")
def onnx(test_backbones: BackboneFiles) -> Backbone:
    return Backbone.load(test_backbones.onnx)


@pytest.fixture(scope="module")
def predictor(backbone_checkpoint: Path, onnx: Backbone) -> Predictor:
    return Predictor.load(backbone_checkpoint, backbone=onnx)


@pytest.fixture(scope="module")
def training_image(backbone_cohort: Path, predictor: Predictor) -> np.ndarray:
    """A display-ready film of the training cohort, typical for the model's film guard."""
    guard = predictor.checkpoint.applicability
    assert guard is not None
    assert guard.film is not None
    return typical_training_film(backbone_cohort, guard.film)[1]


def _window(*films: ChestFilm) -> PatientWindow:
    vitals = [
        Measurement(patient_key=KEY, variable=v, value=x, unit=u, time=NOW - timedelta(hours=h))
        for h in range(6)
        for v, x, u in (("spo2", 92.0, "%"), ("fio2", 40.0, "%"), ("resp_rate", 26.0, "/min"))
    ]
    return PatientWindow(patient_key=KEY, as_of=NOW, measurements=tuple(vitals), films=films)


def _film(**fields: object) -> ChestFilm:
    return ChestFilm(
        patient_key=KEY, acquired_at=NOW - timedelta(hours=2), sop_instance_uid="1.2.3.4", **fields
    )


def test_a_film_read_by_the_model_s_backbone_is_used(
    predictor: Predictor, onnx: Backbone, training_image: np.ndarray
) -> None:
    assert predictor.film_size == onnx.input_size
    made = predictor.film_embedding(predictor_pixels := onnx.prepare(training_image))
    assert made.backbone == onnx.identity
    assert np.allclose(made.values, onnx.embed(predictor_pixels[None])[0])
    for film in (_film(pixels=predictor_pixels), _film(embedding=made.values,
                 embedding_model=made.embedding_model, backbone=made.backbone)):  # fmt: skip
        result = predictor.predict(_window(film))
        assert result.film_not_used is None, result.film_not_used
        assert result.film_sop_instance_uid == "1.2.3.4"
        assert result.image_weight > 0.0


def test_a_film_read_by_another_backbone_is_not_used_and_says_which(
    predictor: Predictor, test_backbones: BackboneFiles, training_image: np.ndarray
) -> None:
    other = Backbone.load(test_backbones.other)
    vector = tuple(float(v) for v in other.embed(other.prepare(training_image)[None])[0])
    film = _film(embedding=vector, embedding_model=f"backbone:{other.identity.key}",
                 backbone=other.identity)  # fmt: skip
    result = predictor.predict(_window(film))
    without = predictor.predict(_window())
    assert result.image_weight == 0.0
    assert result.probability == without.probability
    assert "1.2.3.4" not in result.basis_ids
    info = result.film_not_used
    assert info is not None
    assert info.reason is FilmNotUsedReason.BACKBONE_MISMATCH
    assert info.film_backbone == other.identity
    assert info.model_backbone == predictor.backbone
    assert film_not_used_text(info, NOW) == (
        "Chest film not used: it was read by image model other-densenet121 v2, not by "
        "test-densenet121 v1, the one this model was trained with (film from 2 h ago). This "
        "risk uses EHR data only."
    )


def test_same_labels_are_told_apart_and_unrecorded_embeddings_are_refused(
    predictor: Predictor, test_backbones: BackboneFiles, training_image: np.ndarray
) -> None:
    script = Backbone.load(test_backbones.torchscript)  # same weights and label, another file
    vector = tuple(float(v) for v in script.embed(script.prepare(training_image)[None])[0])
    result = predictor.predict(_window(_film(embedding=vector, backbone=script.identity)))
    assert result.film_not_used is not None
    text = film_not_used_text(result.film_not_used, NOW)
    assert f"test-densenet121 v1 [file {script.identity.sha256[:8]}]" in text
    # an embedding that does not say which backbone made it is never taken for the model's
    bare = predictor.predict(_window(_film(embedding=vector)))
    assert bare.film_not_used is not None
    assert bare.film_not_used.reason is FilmNotUsedReason.BACKBONE_MISMATCH
    assert "an image model that was not recorded" in film_not_used_text(bare.film_not_used, NOW)


def test_an_unlike_film_read_by_the_right_backbone_is_refused_by_the_guard(
    predictor: Predictor, onnx: Backbone
) -> None:
    noise = np.random.default_rng(0).uniform(0, 1, (300, 300)).astype(np.float32)
    result = predictor.predict(_window(_film(pixels=onnx.prepare(noise))))
    assert result.film_not_used is not None
    assert result.film_not_used.reason is FilmNotUsedReason.UNLIKE_TRAINING_FILMS
    assert result.film_not_used.detail == "embedding"


def test_the_wrong_backbone_or_none_at_all(
    backbone_checkpoint: Path, test_backbones: BackboneFiles, tiny_checkpoint: Path,
    training_image: np.ndarray,
) -> None:  # fmt: skip
    with pytest.raises(ModelError, match="is not the one"):
        Predictor.load(backbone_checkpoint, backbone=Backbone.load(test_backbones.other))
    with pytest.raises(ModelError, match="not trained on film-backbone embeddings"):
        Predictor.load(tiny_checkpoint, backbone=Backbone.load(test_backbones.onnx))
    bare = Predictor.load(backbone_checkpoint)  # no backbone: pixels cannot be read
    with pytest.raises(ModelError, match="test-densenet121 v1, which is not configured"):
        bare.embed_film(np.zeros((1, 64, 64), np.float32))
    result = bare.predict(_window(_film(pixels=np.zeros((1, 64, 64), np.float32) + 0.5)))
    assert result.film_not_used is not None
    assert result.film_not_used.reason is FilmNotUsedReason.NOT_CHECKED
    assert result.image_weight == 0.0


def test_evaluation_refuses_a_cohort_embedded_by_another_backbone(
    backbone_checkpoint: Path, backbone_cohort: Path, test_backbones: BackboneFiles,
    tmp_path: Path,
) -> None:  # fmt: skip
    from model.backbone.cohort import embed_cohort
    from model.checkpoint import load_checkpoint
    from model.cohort import read_cohort
    from model.evaluation.run import build_context

    ckpt = load_checkpoint(backbone_checkpoint)
    assert build_context([ckpt], backbone_cohort, "all", 10, 0) is not None
    source = Path(str(read_cohort(backbone_cohort).meta["embedded_from"]))
    other = embed_cohort(source, Backbone.load(test_backbones.other), tmp_path / "other")
    with pytest.raises(ModelError, match="embedded by other-densenet121 v2"):
        build_context([ckpt], other.out, "all", 10, 0)
