"""Loading a film backbone: sha256 checked, both runtimes, normalisation and output width."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from model.backbone import BackboneError
from model.backbone.runtime import Backbone
from tests.support.backbones import SIZE, BackboneFiles
from tests.support.synthetic_films import simulator_display


def _films(n: int = 5) -> np.ndarray:
    loaded = Backbone.__new__(Backbone)  # only .prepare's size is needed
    loaded.input_size = SIZE
    return np.stack(
        [
            loaded.prepare(simulator_display(96 + 16 * i, seed=i, consolidation=0.1 * i))
            for i in range(n)
        ]
    )


def _copy(manifest: Path, folder: Path, **changes: object) -> Path:
    """The backbone copied into ``folder`` with manifest fields changed."""
    data = json.loads(manifest.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(manifest.parent / data["file"], folder / data["file"])
    data.update(changes)
    target = folder / "manifest.json"
    target.write_text(json.dumps(data))
    return target


def test_onnx_and_torchscript_give_the_network_s_embedding(test_backbones: BackboneFiles) -> None:
    films = _films()
    onnx = Backbone.load(test_backbones.onnx)
    script = Backbone.load(test_backbones.torchscript)
    with torch.no_grad():
        expected = test_backbones.network(torch.from_numpy((films - 0.5) / 0.25)).numpy()
    a, b = onnx.embed(films), script.embed(films)
    assert a.shape == b.shape == (5, 32)
    assert np.allclose(a, expected, atol=1e-4, rtol=1e-4)
    assert np.allclose(a, b, atol=1e-4, rtol=1e-4)
    assert onnx.manifest.runtime_name == "onnx"
    assert script.manifest.runtime_name == "torchscript"
    # the same weights in another file are another backbone (the identity is the file's)
    assert not onnx.identity.same_backbone(script.identity)


def test_batches_give_the_same_vectors_as_one_film_at_a_time(test_backbones: BackboneFiles) -> None:
    films = _films(5)
    onnx = Backbone.load(test_backbones.onnx)
    batched = onnx.embed(films, batch_size=2)
    single = np.concatenate([onnx.embed(films[i : i + 1]) for i in range(5)])
    assert np.allclose(batched, single, atol=1e-5)
    fixed = Backbone.load(test_backbones.fixed_batch_onnx)  # an export without a batch axis
    assert np.allclose(fixed.embed(films, batch_size=4), single, atol=1e-5)


def test_a_file_that_is_not_the_manifest_s_is_refused(
    test_backbones: BackboneFiles, tmp_path: Path
) -> None:
    manifest = _copy(test_backbones.onnx, tmp_path / "b")
    model_file = tmp_path / "b" / "test-densenet121.onnx"
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    model_file.write_bytes(bytes(data))
    with pytest.raises(BackboneError, match="sha256"):
        Backbone.load(manifest)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"output_dim": 64}, "manifest says"),
        ({"input": {"size": 48, "channels": 1}}, "input shape"),
        ({"input": {"size": 64, "channels": 3}, "normalisation": {"mean": [0.5]}}, "input shape"),
        ({"output_name": "logits"}, "no output"),
        ({"file": "missing.onnx"}, "cannot read"),
    ],
)
def test_a_manifest_that_does_not_match_its_file_is_refused(
    test_backbones: BackboneFiles, tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(BackboneError, match=message):
        Backbone.load(_copy(test_backbones.onnx, tmp_path / "b", **changes))


def test_torchscript_output_width_is_checked(test_backbones: BackboneFiles, tmp_path: Path) -> None:
    with pytest.raises(BackboneError, match="manifest says"):
        Backbone.load(_copy(test_backbones.torchscript, tmp_path / "b", output_dim=31))


def test_normalisation_of_the_manifest_is_applied(
    test_backbones: BackboneFiles, tmp_path: Path
) -> None:
    films = _films(2)
    scaled = Backbone.load(
        _copy(test_backbones.onnx, tmp_path / "b",
              normalisation={"range": [-1024.0, 1024.0], "mean": [0.0], "std": [2048.0]})
    )  # fmt: skip
    with torch.no_grad():
        expected = test_backbones.network(torch.from_numpy(films - 0.5)).numpy()
    assert np.allclose(scaled.embed(films), expected, atol=1e-4)
    assert scaled.identity.sha256 == Backbone.load(test_backbones.onnx).identity.sha256
    assert scaled.identity.recipe != Backbone.load(test_backbones.onnx).identity.recipe


def test_films_of_the_wrong_shape_are_refused(test_backbones: BackboneFiles) -> None:
    onnx = Backbone.load(test_backbones.onnx)
    with pytest.raises(BackboneError, match="expected films"):
        onnx.embed(np.zeros((2, 1, 32, 32), np.float32))
    assert onnx.prepare(np.zeros((300, 200), np.float32)).shape == (1, SIZE, SIZE)
