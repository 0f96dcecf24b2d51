"""The backbone manifest: a small JSON file beside the model file that says how to use it.

Example (``docs/model.md``, "Using your own foundation model")::

    {"format": "ventfusion-backbone", "format_version": 1,
     "name": "cxr-densenet121", "version": "1.0",
     "file": "cxr-densenet121.onnx", "sha256": "<64 hex digits>",
     "input": {"size": 224, "channels": 1},
     "normalisation": {"range": [0.0, 1.0], "mean": [0.5], "std": [0.25]},
     "output_dim": 1024, "preprocessing": "ventfusion-film-v1",
     "licence": "site licence no. 42", "source": "exported from our PACS AI group's weights"}

The film reaches the backbone as ``model.transforms`` leaves it (``preprocessing``) at
``input.size`` px: a ``(1, S, S)`` tensor in [0, 1]. It is mapped linearly onto
``normalisation.range``, then ``(x - mean[c]) / std[c]`` per channel, the grey channel repeated
to ``input.channels``. The output must be ``(N, output_dim)`` (trailing 1-sized dimensions are
dropped).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from model.backbone import BackboneError
from model.schemas import BACKBONE_LABEL_PATTERN, BackboneIdentity

FORMAT = "ventfusion-backbone"
FORMAT_VERSION = 1
#: The shared MONAI film preprocessing of ``model.transforms`` (longest side area-resized to S,
#: 0.5-99.5 percentile scaling to [0, 1], centre zero-pad to S x S): what ingest and training do.
PREPROCESSING: Literal["ventfusion-film-v1"] = "ventfusion-film-v1"
MAX_MANIFEST_BYTES = 64 * 1024
RUNTIMES = {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript", ".pth": "torchscript"}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BackboneInput(_Strict):
    size: int = Field(ge=8, le=2048)  # side of the square film tensor, px
    channels: Literal[1, 3] = 1  # 3: the grey film is repeated on every channel


class Normalisation(_Strict):
    range: tuple[float, float] = (0.0, 1.0)  # [0, 1] is mapped linearly onto this
    mean: tuple[float, ...] = (0.0,)  # one value, or one per channel
    std: tuple[float, ...] = (1.0,)

    @model_validator(mode="after")
    def _sane(self) -> Normalisation:
        if not self.range[0] < self.range[1]:
            raise ValueError("normalisation.range must be [low, high] with low < high")
        if not self.mean or not self.std or any(s <= 0 for s in self.std):
            raise ValueError("normalisation.std values must be > 0")
        return self


class BackboneManifest(_Strict):
    """What a site says about its film backbone (validated; unknown fields are refused)."""

    format: Literal["ventfusion-backbone"]
    format_version: int = Field(ge=1, le=FORMAT_VERSION)
    name: str = Field(min_length=1, max_length=64, pattern=BACKBONE_LABEL_PATTERN)
    version: str = Field(min_length=1, max_length=32, pattern=BACKBONE_LABEL_PATTERN)
    file: str = Field(min_length=1, max_length=512)  # relative to the manifest's folder
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    runtime: Literal["onnx", "torchscript"] | None = None  # default: from the file's suffix
    input: BackboneInput
    normalisation: Normalisation = Normalisation()
    output_dim: int = Field(ge=1, le=65536)
    output_name: str | None = None  # ONNX: which graph output (default: the first)
    preprocessing: Literal["ventfusion-film-v1"] = PREPROCESSING
    licence: str = Field(default="", max_length=2000)
    source: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _channels_match(self) -> BackboneManifest:
        for name in ("mean", "std"):
            values = getattr(self.normalisation, name)
            if len(values) not in (1, self.input.channels):
                raise ValueError(
                    f"normalisation.{name} needs 1 or {self.input.channels} values, "
                    f"got {len(values)}"
                )
        if self.runtime is None and Path(self.file).suffix.lower() not in RUNTIMES:
            raise ValueError(
                f'cannot tell the runtime from {self.file!r}: set "runtime" to "onnx" or '
                '"torchscript"'
            )
        return self

    @property
    def runtime_name(self) -> str:
        return self.runtime or RUNTIMES[Path(self.file).suffix.lower()]

    def recipe(self) -> str:
        """Digest of everything besides the file that shapes the embedding."""
        described = {
            "input": self.input.model_dump(mode="json"),
            "normalisation": self.normalisation.model_dump(mode="json"),
            "output_dim": self.output_dim,
            "output_name": self.output_name,
            "preprocessing": self.preprocessing,
        }
        text = json.dumps(described, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def identity(self) -> BackboneIdentity:
        return BackboneIdentity(
            name=self.name, version=self.version, sha256=self.sha256.lower(), recipe=self.recipe()
        )


def read_manifest(path: Path) -> BackboneManifest:
    """Read and validate a manifest; every problem is a ``BackboneError`` naming the file."""
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise BackboneError(f"{path}: a backbone manifest is a small JSON file, this is not")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackboneError(f"cannot read backbone manifest {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackboneError(f'{path} is not a {FORMAT} manifest ("format": "{FORMAT}")')
    try:
        return BackboneManifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'manifest'}: {e['msg']}" for e in exc.errors()
        )
        raise BackboneError(f"{path}: invalid backbone manifest ({problems})") from exc


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
