"""Film backbones: a site's own foundation model for chest films, as a file plus a manifest.

- ``manifest``: what the site describes (name, version, sha256 of the file, input size and
  channels, intensity normalisation, output dimension, the shared preprocessing before it) and
  the identity every embedding it makes carries (``model.schemas.BackboneIdentity``);
- ``runtime``: loading the file (ONNX with onnxruntime on the CPU, or TorchScript) after
  checking its sha256, and embedding preprocessed films in batches;
- ``cohort``: ``ventfusion embed-films``, every film of a cohort embedded once into a cohort
  that ``ventfusion train`` reads as embeddings (resumable, cached per film and backbone).

Nothing is downloaded: the site brings the file and is responsible for its licence.
"""

from model import ModelError

__all__ = ["BackboneError"]


class BackboneError(ModelError):
    """A backbone manifest or file is unusable, or the backbone failed on a film."""
