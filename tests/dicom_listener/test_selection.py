"""Selection rules: frontal chest CR/DX only, configurable."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from dicom_listener.config import SelectionRules
from dicom_listener.facts import FilmFacts, PatientIdentity
from dicom_listener.selection import rejection_reason
from model.schemas import FilmView

CHEST_AP = FilmFacts(
    sop_instance_uid="1.2.3",
    sop_class_uid="1.2.840.10008.5.1.4.1.1.1",
    study_instance_uid="1.2",
    modality="CR",
    body_part="CHEST",
    view_position="AP",
    image_type=("ORIGINAL", "PRIMARY"),
    descriptions=("XR CHEST PORTABLE", "PORTABLE1"),
    identity=PatientIdentity("MRN-1"),
    acquired_at=datetime(2026, 3, 1, 6, tzinfo=UTC),
)


def test_frontal_chest_film_is_selected() -> None:
    assert rejection_reason(CHEST_AP, SelectionRules()) is None
    assert CHEST_AP.view is FilmView.AP


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"modality": "CT"}, "modality CT"),
        ({"body_part": "ABDOMEN"}, "body part ABDOMEN"),
        ({"view_position": "LL"}, "view position LL"),
        ({"image_type": ("DERIVED", "SECONDARY")}, "image type lacks PRIMARY"),
        ({"body_part": "", "descriptions": ("XR ABDOMEN",)}, "no body part"),
        ({"view_position": "", "descriptions": ("XR CHEST 1 VIEW",)}, "no view position"),
    ],
)
def test_other_films_are_rejected_with_a_reason(change: dict[str, object], reason: str) -> None:
    found = rejection_reason(replace(CHEST_AP, **change), SelectionRules())  # type: ignore[arg-type]
    assert found is not None
    assert reason in found


def test_keywords_stand_in_for_missing_attributes() -> None:
    facts = replace(CHEST_AP, body_part="", view_position="", descriptions=("CHEST PORTABLE",))
    assert rejection_reason(facts, SelectionRules()) is None
    assert facts.view is FilmView.UNKNOWN


def test_site_keywords_are_required_when_configured() -> None:
    rules = SelectionRules(required_keywords=["mobile"])  # type: ignore[arg-type]
    assert "site keyword" in (rejection_reason(CHEST_AP, rules) or "")
    facts = replace(CHEST_AP, descriptions=("MOBILE UNIT 3",))
    assert rejection_reason(facts, rules) is None


def test_lateral_view_maps_to_the_domain_view() -> None:
    assert replace(CHEST_AP, view_position="LL").view is FilmView.LATERAL
