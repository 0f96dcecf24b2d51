"""``PageCursor``: which ``next`` link of a search is followed (one rule for every search)."""

from __future__ import annotations

import orjson

from fhir_adapter.paging import PageCursor
from fhir_adapter.resources import Bundle, decode

BASE = "https://ehr.example.org/fhir"


def _page(next_url: str | None) -> Bundle:
    links = [{"relation": "self", "url": f"{BASE}/Observation"}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    return decode(
        orjson.dumps({"resourceType": "Bundle", "type": "searchset", "link": links}), Bundle
    )


def test_a_next_link_on_the_searched_server_is_followed() -> None:
    cursor = PageCursor(BASE)
    assert cursor.next(_page(f"{BASE}/Observation?_offset=20")) == f"{BASE}/Observation?_offset=20"
    assert cursor.next(_page("Observation?_offset=40")) == f"{BASE}/Observation?_offset=40"
    assert cursor.next(_page(None)) is None


def test_a_next_link_to_another_origin_is_never_followed() -> None:
    """The bearer token goes with every page: another host, scheme or port gets nothing."""
    cursor = PageCursor(BASE)
    for url in (
        "https://attacker.example/fhir/Observation?_offset=20",
        "http://ehr.example.org/fhir/Observation?_offset=20",
        "https://ehr.example.org:8443/fhir/Observation?_offset=20",
        "//attacker.example/fhir/Observation",
        "file:///etc/passwd",
        "https://ehr.example.org\x00.attacker.example/fhir",
    ):
        assert cursor.next(_page(url)) is None, url


def test_a_loop_or_too_many_pages_ends_the_search() -> None:
    cursor = PageCursor(BASE)
    link = f"{BASE}/Observation?_offset=20"
    assert cursor.next(_page(link)) == link
    assert cursor.next(_page(link)) is None  # the server sent us back: a loop
    short = PageCursor(BASE, max_pages=3)
    followed = [short.next(_page(f"{BASE}/Observation?_offset={20 * i}")) for i in range(1, 5)]
    assert followed[:2] == [f"{BASE}/Observation?_offset=20", f"{BASE}/Observation?_offset=40"]
    assert followed[2:] == [None, None]  # three pages in all: the first plus two links
