"""Real film backbones built at test time: MONAI DenseNet121s with seeded weights, exported to
ONNX and TorchScript, each with its manifest (nothing is downloaded).

Tests run them at 64 px with a 32-d output: on two shared cores a 224-px DenseNet121 costs about
18 times as much per film (measured 85 vs 4.7 ms with onnxruntime, 272 vs 9.6 ms with
TorchScript, one thread), and nothing in the code path depends on the size. The benchmark
(``bench/bench_backbone.py``) runs the 224-px, 1024-d size.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.backbone.manifest import BackboneManifest, file_sha256

SIZE = 64
DIM = 32
NORMALISATION = {"range": [0.0, 1.0], "mean": [0.5], "std": [0.25]}


@dataclass(frozen=True)
class BackboneFiles:
    """Manifests of three backbones (and the network behind the first two)."""

    onnx: Path  # test-densenet121 v1, ONNX
    torchscript: Path  # the same weights as TorchScript: another file, so another backbone
    other: Path  # other-densenet121 v2: other weights, TorchScript
    fixed_batch_onnx: Path  # the first network exported without a dynamic batch axis
    network: Any  # torch.nn.Module of the first two, in eval mode


def densenet(seed: int, *, size: int = SIZE, dim: int = DIM) -> Any:
    """A 1-channel MONAI DenseNet121 with seeded random weights, in eval mode."""
    import torch
    from monai.networks.nets.densenet import DenseNet121

    torch.manual_seed(seed)
    return DenseNet121(spatial_dims=2, in_channels=1, out_channels=dim).eval()


def export_onnx(network: Any, path: Path, size: int, *, dynamic_batch: bool = True) -> None:
    """The export recipe of docs/model.md (legacy exporter: no extra package needed)."""
    import torch

    example = torch.rand(1, 1, size, size)
    axes = {"image": {0: "batch"}, "embedding": {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter announces its deprecation
        torch.onnx.export(
            network,
            (example,),
            str(path),
            dynamo=False,
            input_names=["image"],
            output_names=["embedding"],
            dynamic_axes=axes,
        )


def export_torchscript(network: Any, path: Path, size: int) -> None:
    import torch

    with torch.no_grad():
        traced = torch.jit.trace(network, torch.rand(2, 1, size, size))
    traced.save(str(path))


def manifest_for(
    model_file: Path, name: str, version: str, *, size: int = SIZE, dim: int = DIM, **extra: Any
) -> Path:
    """Write ``<file>.json`` describing ``model_file`` and return its path."""
    manifest = BackboneManifest.model_validate(
        {
            "format": "ventfusion-backbone",
            "format_version": 1,
            "name": name,
            "version": version,
            "file": model_file.name,
            "sha256": file_sha256(model_file),
            "input": {"size": size, "channels": 1},
            "normalisation": NORMALISATION,
            "output_dim": dim,
            "licence": "test weights, seeded at random",
            **extra,
        }
    )
    path = model_file.with_name(model_file.name + ".json")
    data = manifest.model_dump(mode="json", exclude_none=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")  # as docs/model.md shows
    return path


def build_test_backbones(folder: Path) -> BackboneFiles:
    """Build, export and describe the three test backbones in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    first, second = densenet(0), densenet(1)
    export_onnx(first, folder / "test-densenet121.onnx", SIZE)
    export_onnx(first, folder / "fixed-batch.onnx", SIZE, dynamic_batch=False)
    export_torchscript(first, folder / "test-densenet121.pt", SIZE)
    export_torchscript(second, folder / "other-densenet121.pt", SIZE)
    return BackboneFiles(
        onnx=manifest_for(folder / "test-densenet121.onnx", "test-densenet121", "1"),
        torchscript=manifest_for(folder / "test-densenet121.pt", "test-densenet121", "1"),
        other=manifest_for(folder / "other-densenet121.pt", "other-densenet121", "2"),
        fixed_batch_onnx=manifest_for(folder / "fixed-batch.onnx", "fixed-batch", "1"),
        network=first,
    )


def typical_training_film(embedded_cohort: Path, guard: Any) -> tuple[Any, Any]:
    """The source film (and its display image) whose embedding the model's film guard scores
    at the median of the cohort's films: a film like the training films, not an outlier."""
    import numpy as np

    from model.cohort import read_cohort
    from model.features.films import load_display_image

    embedded = read_cohort(embedded_cohort)
    source = Path(str(embedded.meta["embedded_from"]))
    ratios = [guard.assess(np.load(embedded_cohort / f.path), None).ratio for f in embedded.films]
    chosen = embedded.films[int(np.argsort(ratios)[len(ratios) // 2])]
    film = next(
        f for f in read_cohort(source).films if f.sop_instance_uid == chosen.sop_instance_uid
    )
    return film, load_display_image(source, film)


def stored_values(image: Any) -> Any:
    """A display image as 12-bit MONOCHROME2 stored values (what a modality would send)."""
    import numpy as np

    scaled = (image - image.min()) / max(float(image.max() - image.min()), 1e-6)
    return np.round(scaled * 4095).astype(np.uint16)
