"""Loading a film backbone and embedding films with it (ONNX via onnxruntime, or TorchScript).

The file is read once, its sha256 checked against the manifest, and the runtime is built from
those very bytes, so what runs is what was checked. A probe film then checks that the output has
the manifest's width. Both runtimes run on the CPU; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from model.backbone import BackboneError
from model.backbone.manifest import BackboneManifest, read_manifest
from model.schemas import BackboneIdentity
from model.transforms import preprocess_film

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 2 * 1024**3  # one file (ONNX external data is not supported: it is not hashed)
Runner = Callable[[np.ndarray], np.ndarray]


def _onnx_runner(blob: bytes, manifest: BackboneManifest, threads: int) -> tuple[Runner, int]:
    """An onnxruntime session on the CPU; returns the runner and its largest batch."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(threads, 0)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own unrelated exception types
        raise BackboneError(f"onnxruntime cannot load {manifest.file}: {exc}") from exc
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise BackboneError(f"{manifest.file}: expected one input, the graph has {len(inputs)}")
    shape = list(inputs[0].shape)
    expected = [manifest.input.channels, manifest.input.size, manifest.input.size]
    if len(shape) != 4 or any(
        isinstance(d, int) and d != e for d, e in zip(shape[1:], expected, strict=True)
    ):
        raise BackboneError(
            f"{manifest.file}: input shape {shape} does not take films shaped (N, "
            f"{', '.join(map(str, expected))}) as the manifest says"
        )
    outputs = [o.name for o in session.get_outputs()]
    wanted = manifest.output_name or outputs[0]
    if wanted not in outputs:
        raise BackboneError(f"{manifest.file}: no output {wanted!r} (outputs: {outputs})")
    name = inputs[0].name
    max_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else 0

    def run(batch: np.ndarray) -> np.ndarray:
        return np.asarray(session.run([wanted], {name: batch})[0])

    return run, max_batch


def _torchscript_runner(blob: bytes, manifest: BackboneManifest) -> Runner:
    """A TorchScript module on the CPU (torch's thread count is the process's setting)."""
    import torch

    try:
        with warnings.catch_warnings():  # torch 2.13 announces TorchScript's deprecation
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(io.BytesIO(blob), map_location="cpu")  # type: ignore[no-untyped-call]
    except (RuntimeError, ValueError) as exc:
        raise BackboneError(f"TorchScript cannot load {manifest.file}: {exc}") from exc
    module.eval()

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.from_numpy(batch))
        if not isinstance(out, torch.Tensor):
            raise BackboneError(f"{manifest.file} returned {type(out).__name__}, not a tensor")
        return out.numpy()

    return run


class Backbone:
    """A loaded, verified film backbone: ``prepare`` a display-ready film, ``embed`` a batch."""

    def __init__(self, manifest: BackboneManifest, runner: Runner, max_batch: int = 0) -> None:
        self.manifest = manifest
        self.identity: BackboneIdentity = manifest.identity()
        self.input_size: int = manifest.input.size
        self.output_dim: int = manifest.output_dim
        self._run = runner
        self._max_batch = max_batch  # 0: any batch size
        norm = manifest.normalisation
        low, high = norm.range
        channels = manifest.input.channels
        mean = np.broadcast_to(np.asarray(norm.mean, np.float32), (channels,))
        std = np.broadcast_to(np.asarray(norm.std, np.float32), (channels,))
        # x -> (low + x (high - low) - mean) / std, as one multiply-add per channel
        self._gain = ((high - low) / std).astype(np.float32).reshape(1, channels, 1, 1)
        self._offset = ((low - mean) / std).astype(np.float32).reshape(1, channels, 1, 1)

    @classmethod
    def load(cls, manifest_path: Path, *, threads: int = 1) -> Backbone:
        """Read the manifest, check the file's sha256, build the runtime and probe it."""
        manifest = read_manifest(manifest_path)
        path = (manifest_path.parent / manifest.file).resolve()
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise BackboneError(f"{path}: larger than {MAX_FILE_BYTES >> 30} GiB")
            blob = path.read_bytes()
        except OSError as exc:
            raise BackboneError(f"cannot read the backbone file {path}: {exc}") from exc
        found = hashlib.sha256(blob).hexdigest()
        if found != manifest.sha256.lower():
            raise BackboneError(
                f"{path}: sha256 {found} is not the manifest's {manifest.sha256.lower()}; "
                "the file is not the one the manifest describes"
            )
        if manifest.runtime_name == "onnx":
            runner, max_batch = _onnx_runner(blob, manifest, threads)
        else:
            runner, max_batch = _torchscript_runner(blob, manifest), 0
        backbone = cls(manifest, runner, max_batch)
        backbone._probe()
        log.info(
            "film backbone %s loaded (%s, sha256 %s…, %d px, %d-d)",
            backbone.identity.label,
            manifest.runtime_name,
            found[:12],
            backbone.input_size,
            backbone.output_dim,
        )
        return backbone

    def _probe(self) -> None:
        size = self.input_size
        ramp = np.linspace(0.0, 1.0, size * size, dtype=np.float32).reshape(1, 1, size, size)
        self.embed(ramp)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """The shared MONAI preprocessing (``model.transforms``) at the backbone's input size."""
        arr = np.asarray(image, np.float32)
        if arr.shape == (1, self.input_size, self.input_size):
            return np.ascontiguousarray(arr)
        return preprocess_film(arr, self.input_size)

    def embed(self, films: np.ndarray, *, batch_size: int = 16) -> np.ndarray:
        """Embeddings ``(N, output_dim)`` float32 of preprocessed films ``(N, 1, S, S)``."""
        x = np.asarray(films, np.float32)
        size = self.input_size
        if x.ndim != 4 or x.shape[1:] != (1, size, size):
            raise BackboneError(f"expected films (N, 1, {size}, {size}), got {x.shape}")
        step = self._max_batch or max(batch_size, 1)
        parts = [self._embed_batch(x[i : i + step]) for i in range(0, len(x), step)]
        if not parts:
            return np.zeros((0, self.output_dim), np.float32)
        return np.concatenate(parts)

    def _embed_batch(self, films: np.ndarray) -> np.ndarray:
        batch = films * self._gain + self._offset  # broadcasts the grey channel
        out = np.asarray(self._run(np.ascontiguousarray(batch, np.float32)), np.float32)
        n = films.shape[0]
        if out.ndim < 2 or out.shape[0] != n or math.prod(out.shape[1:]) != self.output_dim:
            raise BackboneError(
                f"{self.manifest.file} gave output {out.shape} for {n} films; the manifest says "
                f"(N, {self.output_dim})"
            )
        out = out.reshape(n, self.output_dim)
        if not np.isfinite(out).all():
            raise BackboneError(f"{self.manifest.file} returned non-finite values")
        return out


def check_backbone(
    expected: BackboneIdentity | None, backbone: Backbone | None, model: str, embedding_dim: int
) -> None:
    """A configured film backbone must be the very one the checkpoint ``model`` was trained on
    (``expected``, with ``embedding_dim``-d embeddings); raises ``BackboneError`` otherwise."""
    if backbone is None:
        if expected is not None:
            log.warning(
                "%s was trained on embeddings of the film backbone %s, which is not configured: "
                "films that arrive as pixels cannot be used",
                model,
                expected.label,
            )
        return
    found = backbone.identity
    if expected is None:
        raise BackboneError(
            f"{model} was not trained on film-backbone embeddings; it cannot use the backbone "
            f"{found.label} (unset the backbone setting)"
        )
    if not expected.same_backbone(found):
        raise BackboneError(
            f"the configured film backbone {found.label} (sha256 {found.sha256[:12]}…, recipe "
            f"{found.recipe}) is not the one {model} was trained with: {expected.label} (sha256 "
            f"{expected.sha256[:12]}…, recipe {expected.recipe})"
        )
    if backbone.output_dim != embedding_dim:
        raise BackboneError(
            f"the film backbone gives {backbone.output_dim}-d embeddings, {model} reads "
            f"{embedding_dim}-d"
        )
