"""Values of FHIR R4 search parameters, built in one place (R4 search, "Escaping")

Real servers read these strictly: Medplum splits a token on every ``|`` (a second one cuts the
value short) and URL-decodes ``If-None-Exist`` (a ``+`` becomes a space), so every value we
search on goes through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

_RESERVED = ("\\", ",", "$", "|")  # backslash first: it escapes the others


def escape(value: str) -> str:
    """Backslash-escape the characters that separate search values (``\\ , $ |``)."""
    for char in _RESERVED:
        value = value.replace(char, "\\" + char)
    return value


def token(system: str, code: str) -> str:
    """A ``system|code`` token (both parts escaped)."""
    return f"{escape(system)}|{escape(code)}"


def instant(value: datetime) -> str:
    """A FHIR instant with an explicit zone, truncated to milliseconds (never rounded up)."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def query_string(params: Mapping[str, str]) -> str:
    """``a=1&b=2`` URL-encoded as a query (for ``If-None-Exist``, which servers URL-decode)."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe=':/@|')}" for k, v in params.items())
