"""Search-parameter matching of the test FHIR server (``tests/support/fhir_server.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

Json = dict[str, Any]
SEARCH_PARAMETERS = frozenset(
    {
        "patient",
        "subject",
        "code",
        "category",
        "identifier",
        "date",
        "_lastUpdated",
        "_id",
        "url",
        "status",
        "criteria",
        "target",
        "agent",
    }
)


def instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _compare(prefixed: str, actual: datetime | None) -> bool:
    if actual is None:
        return False
    prefix, text = (prefixed[:2], prefixed[2:]) if prefixed[:2].isalpha() else ("eq", prefixed)
    wanted = instant(text)
    ops = {
        "eq": actual == wanted,
        "gt": actual > wanted,
        "ge": actual >= wanted,
        "lt": actual < wanted,
        "le": actual <= wanted,
    }
    if prefix not in ops:
        raise ValueError(f"unsupported prefix {prefix}")
    return ops[prefix]


def _tokens(concept: Any) -> set[str]:
    out: set[str] = set()
    for c in (concept or {}).get("coding") or ():
        out |= {c.get("code"), f"{c.get('system')}|{c.get('code')}"}
    return out


def _ref_id(ref: str | None) -> str:
    return (ref or "").split("/_history/")[0].rstrip("/").split("/")[-1]


def _effective(res: Json) -> datetime | None:
    text = res.get("effectiveDateTime") or (res.get("effectivePeriod") or {}).get("start")
    text = text or res.get("performedDateTime") or (res.get("performedPeriod") or {}).get("start")
    return instant(text) if text else None


def split_values(value: str) -> list[str]:
    """The OR-ed values of one parameter: split on unescaped commas, then unescape (R4 search)."""
    parts: list[str] = []
    current = ""
    escaped = False
    for char in value:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


SORT_KEYS = {
    "_lastUpdated": lambda r: instant(r["meta"]["lastUpdated"]),
    "date": lambda r: _effective(r) or datetime.min.replace(tzinfo=UTC),
    "_id": lambda r: r["id"],
}


def sort_resources(found: list[Json], sort: str) -> list[Json]:
    """Order ``found`` by ``_sort`` (comma-separated keys, ``-`` for descending)."""
    for field in reversed(sort.split(",")):
        key = SORT_KEYS.get(field.removeprefix("-"))
        if key is None:
            raise ValueError(f"unsupported _sort parameter {field!r}")
        found = sorted(found, key=key, reverse=field.startswith("-"))
    return found


def match(res: Json, name: str, values: list[str]) -> bool:
    """One search parameter (all repetitions AND, commas OR)."""
    for value in values:
        options = split_values(value)
        if name in ("patient", "subject"):
            ok = _ref_id((res.get("subject") or {}).get("reference")) in {
                _ref_id(o) for o in options
            }
        elif name == "code":  # Observation.code only; components are ``component-code``
            ok = bool(_tokens(res.get("code")) & set(options))
        elif name == "category":
            cats = set().union(*(_tokens(c) for c in res.get("category") or ())) or set()
            ok = bool(cats & set(options))
        elif name == "identifier":
            idents = {f"{i.get('system')}|{i.get('value')}" for i in res.get("identifier") or ()}
            idents |= {i.get("value") for i in res.get("identifier") or ()}
            ok = bool(idents & set(options))
        elif name == "date":
            ok = _compare(value, _effective(res))
        elif name == "target":  # Provenance.target
            ok = bool({r.get("reference") for r in res.get("target") or ()} & set(options))
        elif name == "agent":  # Provenance.agent.who
            whos = {(a.get("who") or {}).get("reference") for a in res.get("agent") or ()}
            ok = bool(whos & set(options))
        elif name == "_lastUpdated":
            ok = _compare(value, instant(res["meta"]["lastUpdated"]))
        elif name == "_id":
            ok = res.get("id") in options
        elif name == "url":
            ok = (res.get("channel") or {}).get("endpoint") in options
        elif name in ("status", "criteria"):
            ok = res.get(name) in options
        else:
            raise ValueError(f"unsupported search parameter {name!r}")
        if not ok:
            return False
    return True


def searchset_page(found: list[Json], url: str, base_url: str, offset: int, count: int) -> Json:
    """The searchset Bundle of ``found[offset:offset+count]`` with offset ``next`` link."""
    links = [{"relation": "self", "url": url}]
    if offset + count < len(found):
        following = httpx.URL(url).copy_merge_params(
            {"_offset": str(offset + count), "_count": str(count)}
        )
        links.append({"relation": "next", "url": str(following)})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in found[offset : offset + count]
        ],
    }
