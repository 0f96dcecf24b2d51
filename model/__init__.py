"""VentFusion model layer: domain types, features, nets, training, evaluation, simulator.

Pure: no web, DICOM, FHIR or database code (enforced by import-linter).
"""

__all__ = ["ModelError"]


class ModelError(Exception):
    """Root exception of the model package."""
