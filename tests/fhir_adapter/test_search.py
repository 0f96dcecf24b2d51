"""Search-parameter values: the spec's escaping, instants, URL-encoded conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl

from fhir_adapter.search import escape, instant, query_string, token
from tests.support.fhir_search import split_values


def test_separators_are_escaped_and_read_back_as_one_value() -> None:
    assert escape(r"a\b,c$d|e") == r"a\\b\,c\$d\|e"
    assert token("urn:oid:1.2", "12,34") == r"urn:oid:1.2|12\,34"
    for raw in ("12,34", "a\\,b", "x|y", "plain"):
        assert split_values(escape(raw)) == [raw]


def test_instants_carry_a_zone_and_are_never_rounded_up() -> None:
    local = datetime(2026, 3, 1, 12, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=2)))
    assert instant(local) == "2026-03-01T10:00:00.999Z"
    assert instant(datetime(2026, 3, 1, tzinfo=UTC)) == "2026-03-01T00:00:00.000Z"


def test_conditions_survive_url_decoding() -> None:
    params = {"identifier": "urn:ventfusion:model|gated@1.2.0+cpu", "agent": "Device/a b&c"}
    text = query_string(params)
    assert "+" not in text.split("|", 1)[1]  # a literal '+' would decode to a space
    assert dict(parse_qsl(text)) == params
