"""Physiology-driven synthetic ICU cohort simulator (DESIGN §4, docs/simulator.md).

Everything it produces is synthetic. ``simulate`` writes a cohort directory (model.cohort);
the FHIR and DICOM exports live in the adapters (``fhir_adapter.cohort_fhir_export``,
``dicom_listener.cohort_dicom_export``) because of the layering.
"""

from model.synth.config import (
    DEFAULT_MRN_SYSTEM,
    Phenotype,
    SynthConfig,
    SynthError,
    SynthSummary,
)
from model.synth.simulate import simulate

__all__ = [
    "DEFAULT_MRN_SYSTEM",
    "Phenotype",
    "SynthConfig",
    "SynthError",
    "SynthSummary",
    "simulate",
]
