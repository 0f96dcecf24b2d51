"""The one exception of the MIMIC importer."""

from __future__ import annotations

from model import ModelError


class MimicImportError(ModelError):
    """The MIMIC-IV / MIMIC-CXR-JPG input cannot be imported (wrong folder, table or layout)."""
