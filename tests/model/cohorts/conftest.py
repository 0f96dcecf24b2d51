"""MIMIC importer fixtures: one made-up MIMIC-IV + MIMIC-CXR-JPG tree, imported once."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.cohorts.mimic import MimicImportOptions, MimicImportReport, import_mimic
from tests.model.cohorts.mimic_fixture import Fixture, write_mimic_fixture


@pytest.fixture(scope="session")
def mimic_tree(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    """The fixture tree (read-only by convention)."""
    return write_mimic_fixture(tmp_path_factory.mktemp("mimic"))


@pytest.fixture(scope="session")
def mimic_import(
    mimic_tree: Fixture, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, MimicImportReport]:
    """The cohort imported from the tree with default options, and its report."""
    out = tmp_path_factory.mktemp("mimic-cohort") / "cohort"
    report = import_mimic(
        mimic_tree.mimic, out, cxr_root=mimic_tree.cxr, options=MimicImportOptions(threads=1)
    )
    return out, report
