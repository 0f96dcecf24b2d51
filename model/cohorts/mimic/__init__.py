"""MIMIC-IV (+ MIMIC-CXR-JPG) importer: CSV modules -> the cohort directory (docs/cohort-format.md).

Only this package uses DuckDB (an import-linter contract keeps it out of training and serving).
"""

from model.cohorts.mimic.errors import MimicImportError
from model.cohorts.mimic.importer import MimicImportOptions, import_mimic
from model.cohorts.mimic.report import SUMMARY_FILE, MimicImportReport

__all__ = [
    "SUMMARY_FILE",
    "MimicImportError",
    "MimicImportOptions",
    "MimicImportReport",
    "import_mimic",
]
