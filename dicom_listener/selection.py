"""Selection rules: is this instance a frontal chest film to score?"""

from __future__ import annotations

from dicom_listener.config import SelectionRules
from dicom_listener.facts import FilmFacts


def _mentions(descriptions: tuple[str, ...], keywords: frozenset[str]) -> bool:
    words = {w for text in descriptions for w in text.replace("^", " ").replace("/", " ").split()}
    return bool(words & keywords)


def rejection_reason(facts: FilmFacts, rules: SelectionRules) -> str | None:
    """Return why the film is not scored, or None when it is a chest film to score."""
    modality = facts.modality.upper()
    if rules.modalities and modality not in rules.modalities:
        return f"modality {modality or '(none)'} is not selected"
    body_part = facts.body_part.upper()
    if body_part:
        if rules.body_parts and body_part not in rules.body_parts:
            return f"body part {body_part} is not a chest"
    elif rules.body_parts and not _mentions(facts.descriptions, rules.body_part_keywords):
        return "no body part and no chest keyword in the descriptions"
    view = facts.view_position.upper()
    if view:
        if rules.views and view not in rules.views:
            return f"view position {view} is not frontal ({'/'.join(sorted(rules.views))})"
    elif rules.views and not _mentions(facts.descriptions, rules.view_keywords):
        return "no view position and no frontal-view keyword in the descriptions"
    image_type = {v.upper() for v in facts.image_type}
    missing = rules.required_image_type_values - image_type
    if missing:
        return f"image type lacks {'/'.join(sorted(missing))}"
    if rules.required_keywords and not _mentions(facts.descriptions, rules.required_keywords):
        return "no site keyword (e.g. PORTABLE) in the descriptions or station name"
    if facts.acquired_at is None:
        return "no acquisition, content or study date"
    return None
