"""Client-side fault injection that works against any FHIR server (fake, Medplum, HAPI).

``FaultyTransport`` wraps httpx's transport for ``FhirClient(..., transport=...)``: it records
every request and, for the requests a rule matches, loses the response after the server has
processed the request (a timeout on the way back), refuses the connection before sending, or
answers a status itself without sending, or runs a callback before sending (to change the
server's data between two pages of a search).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import orjson

RequestTest = Callable[[httpx.Request], bool]


@dataclass
class _Rule:
    matches: RequestTest
    action: str | int  # "lose", "refuse", "before" or an HTTP status
    times: int
    before: Callable[[], Awaitable[None]] | None = None


def is_request(method: str, path_suffix: str) -> RequestTest:
    """A test for requests with ``method`` whose URL path ends with ``path_suffix``."""
    return lambda r: r.method == method and r.url.path.endswith(path_suffix)


def nth(test: RequestTest, n: int) -> RequestTest:
    """True for the ``n``-th request (1-based) that ``test`` accepts, and only for it."""
    seen = 0

    def check(request: httpx.Request) -> bool:
        nonlocal seen
        if not test(request):
            return False
        seen += 1
        return seen == n

    return check


class FaultyTransport(httpx.AsyncBaseTransport):
    """An httpx transport that records requests and injects the faults it is told to."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.requests: list[tuple[str, str]] = []
        self._rules: list[_Rule] = []

    def lose_response(self, matches: RequestTest, times: int = 1) -> None:
        """Send matching requests, then raise ReadTimeout instead of returning the answer."""
        self._rules.append(_Rule(matches, "lose", times))

    def refuse(self, matches: RequestTest, times: int = 1) -> None:
        """Raise ConnectError for matching requests (nothing reaches the server)."""
        self._rules.append(_Rule(matches, "refuse", times))

    def answer(self, matches: RequestTest, status: int, times: int = 1) -> None:
        """Answer matching requests with ``status`` and an OperationOutcome, without sending."""
        self._rules.append(_Rule(matches, status, times))

    def before(
        self, matches: RequestTest, callback: Callable[[], Awaitable[None]], times: int = 1
    ) -> None:
        """Await ``callback`` before sending matching requests."""
        self._rules.append(_Rule(matches, "before", times, callback))

    def count(self, method: str, path_suffix: str) -> int:
        """How many recorded requests had ``method`` and a path ending with ``path_suffix``."""
        return sum(1 for m, p in self.requests if m == method and p.endswith(path_suffix))

    def _take(self, request: httpx.Request) -> _Rule | None:
        for rule in self._rules:
            if rule.times > 0 and rule.matches(request):
                rule.times -= 1
                return rule
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        rule = self._take(request)
        if rule is not None and rule.before is not None:
            await rule.before()
        if rule is not None and rule.action == "refuse":
            raise httpx.ConnectError("injected: connection refused", request=request)
        if rule is not None and isinstance(rule.action, int):
            issue = {"severity": "error", "code": "transient", "diagnostics": "injected failure"}
            body = orjson.dumps({"resourceType": "OperationOutcome", "issue": [issue]})
            return httpx.Response(rule.action, content=body, request=request)
        response = await self.inner.handle_async_request(request)
        if rule is not None and rule.action == "lose":
            await response.aread()
            await response.aclose()
            raise httpx.ReadTimeout("injected: the response was lost", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
