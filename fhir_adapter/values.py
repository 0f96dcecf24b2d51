"""FHIR primitive values read at the edge: references, ids, instants (total functions)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FHIR_ID = re.compile(r"[A-Za-z0-9\-._]{1,64}")
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_FRACTION = re.compile(r"(\.\d{6})\d+")


def local_ref(reference: str | None) -> str | None:
    """``Type/id`` from a relative or absolute reference (history suffix dropped), or None.

    Only a well-formed resource type and FHIR id are accepted, so what comes out is safe in a URL
    path and in the database.
    """
    if not reference or len(reference) > 2000:
        return None
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) < 2:
        return None
    kind, rid = parts[-2], parts[-1]
    if not _RESOURCE_TYPE.fullmatch(kind) or not _FHIR_ID.fullmatch(rid):
        return None
    return f"{kind}/{rid}"


def is_fhir_id(value: str) -> bool:
    """True for a valid FHIR ``id`` (1-64 of A-Z a-z 0-9 - . _)."""
    return _FHIR_ID.fullmatch(value) is not None


_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def parse_instant(text: object, *, strict: bool = False) -> datetime | None:
    """A zone-aware datetime from a FHIR dateTime/instant, or None.

    Dates, zone-less times, non-strings and times that cannot be expressed in UTC (year 1 at
    +14:00) give None. ``strict`` requires seconds (RFC 3339 §5.6, as CDS Hooks feedback does).
    """
    if not isinstance(text, str) or len(text) > 40:
        return None
    if not (_RFC3339 if strict else _INSTANT).fullmatch(text):
        return None
    if "." in text:  # Python reads at most 6 fraction digits; FHIR allows more
        text = _FRACTION.sub(r"\1", text)
    try:
        value = datetime.fromisoformat(text.upper().replace(" ", "T"))
        value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return value
