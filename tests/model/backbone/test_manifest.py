"""The backbone manifest: validated fields, clear errors, the identity it gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from model.backbone import BackboneError
from model.backbone.manifest import read_manifest

SHA = "ab" * 32


def _write(tmp_path: Path, **changes: Any) -> Path:
    data: dict[str, Any] = {
        "format": "ventfusion-backbone",
        "format_version": 1,
        "name": "cxr-densenet121",
        "version": "2.1",
        "file": "cxr.onnx",
        "sha256": SHA,
        "input": {"size": 224, "channels": 3},
        "normalisation": {
            "range": [0, 1],
            "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225],
        },
        "output_dim": 1024,
    }
    data.update(changes)
    for key in [k for k, v in data.items() if v is None]:
        del data[key]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    return path


def test_a_complete_manifest_gives_its_identity(tmp_path: Path) -> None:
    manifest = read_manifest(_write(tmp_path))
    identity = manifest.identity()
    assert (identity.name, identity.version, identity.sha256) == ("cxr-densenet121", "2.1", SHA)
    assert identity.label == "cxr-densenet121 v2.1"
    assert manifest.runtime_name == "onnx"
    assert manifest.preprocessing == "ventfusion-film-v1"
    same = read_manifest(_write(tmp_path, licence="ours")).identity()
    assert identity.same_backbone(same)  # labels and notes do not change the embedding
    other = read_manifest(_write(tmp_path, input={"size": 256, "channels": 3})).identity()
    assert not identity.same_backbone(other)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "onnx"}, "not a ventfusion-backbone manifest"),
        ({"sha256": "1234"}, "sha256"),
        ({"output_dim": 0}, "output_dim"),
        ({"input": {"size": 224, "channels": 2}}, "input.channels"),
        ({"normalisation": {"mean": [0.5, 0.5], "std": [0.25]}}, "normalisation.mean"),
        ({"normalisation": {"std": [0.0]}}, "std"),
        ({"normalisation": {"range": [1, 0]}}, "low < high"),
        ({"file": "model.bin"}, "runtime"),
        ({"weights_url": "https://example.org/w.onnx"}, "weights_url"),
        ({"name": "<script>"}, "name"),
        ({"preprocessing": "imagenet"}, "preprocessing"),
        ({"format_version": 9}, "format_version"),
        ({"output_dim": None}, "output_dim"),
    ],
)
def test_a_malformed_manifest_says_what_is_wrong(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(BackboneError, match=message):
        read_manifest(_write(tmp_path, **changes))


def test_unreadable_manifests_are_backbone_errors(tmp_path: Path) -> None:
    for content in (b"{not json", b"\xff\xfe", b"[]"):
        (tmp_path / "bad.json").write_bytes(content)
        with pytest.raises(BackboneError):
            read_manifest(tmp_path / "bad.json")
    with pytest.raises(BackboneError, match="cannot read"):
        read_manifest(tmp_path / "absent.json")
    (tmp_path / "big.json").write_bytes(b" " * 100_000)
    with pytest.raises(BackboneError, match="small JSON"):
        read_manifest(tmp_path / "big.json")
    assert read_manifest(_write(tmp_path, file="m.pt")).runtime_name == "torchscript"
