"""Following a searchset's ``next`` links, written once for every client of a FHIR server.

A ``next`` link is followed only to the origin (scheme, host, port) of the server searched: the
access token goes with every page, so a page must never send it to another host. A link already
followed (a loop) or beyond ``max_pages`` ends the search.
"""

from __future__ import annotations

import logging

import httpx

from fhir_adapter.resources import Bundle

logger = logging.getLogger(__name__)

DEFAULT_MAX_PAGES = 1000


def origin(url: str) -> tuple[str, str, int | None] | None:
    """``(scheme, host, port)`` of an absolute http(s) URL, or None when it is not one."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return None
    return parsed.scheme, parsed.host, parsed.port


class PageCursor:
    """Decides which ``next`` link of a search to follow, page after page."""

    def __init__(self, base_url: str, *, max_pages: int = DEFAULT_MAX_PAGES) -> None:
        self._base = base_url.rstrip("/") + "/"
        self._origin = origin(base_url)
        self._max_pages = max_pages
        self._followed: set[str] = set()

    def next(self, page: Bundle) -> str | None:
        """The URL of the page after ``page``, or None when the search ends here."""
        link = page.next_url()
        if link is None:
            return None
        try:
            url = str(httpx.URL(self._base).join(link))  # FHIR links are absolute; be lenient
        except (httpx.InvalidURL, TypeError, ValueError):
            return None
        if origin(url) != self._origin or self._origin is None:
            logger.warning("next link to another origin not followed")
            return None
        if url in self._followed or len(self._followed) + 1 >= self._max_pages:
            logger.warning("search paging stopped: loop or more than %d pages", self._max_pages)
            return None
        self._followed.add(url)
        return url
