"""Request bodies bounded while they stream: one limit per endpoint, 413 with an OperationOutcome.

An ASGI middleware, so it holds for every route and every way a body arrives:

- a declared ``Content-Length`` over the limit is refused before a byte is read;
- a streamed (chunked) body is counted as the server hands it over, and refused as soon as it
  passes the limit: the application never receives more than the limit;
- a response sent before the body was read to its end (401 before the body, 413) carries
  ``Connection: close``, so the server stops reading the rest of the upload instead of draining it.

Authentication runs in the route's dependencies, before the endpoint reads the body, so an
unauthenticated upload is answered having read nothing at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_adapter.outcome_building import operation_outcome

#: (scope, endpoint name, body bytes received from the server, refused with 413)
BodyObserver = Callable[[Scope, str, int, bool], None]


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """The largest body accepted on the paths matching ``pattern``."""

    endpoint: str  # a name for metrics and messages
    pattern: re.Pattern[str]
    max_bytes: int


class BodyTooLargeError(Exception):
    """Raised from ``receive`` once the body passes the endpoint's limit."""


def _too_large(limit: BodyLimit) -> list[Message]:
    text = f"request body larger than {limit.max_bytes} bytes (limit of {limit.endpoint})"
    body = orjson.dumps(operation_outcome("too-costly", text))
    headers = [
        (b"content-type", b"application/fhir+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    return [
        {"type": "http.response.start", "status": 413, "headers": headers},
        {"type": "http.response.body", "body": body},
    ]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class BodyLimitMiddleware:
    """Applies the first matching ``BodyLimit`` (else ``default``) to each HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: Sequence[BodyLimit],
        default: BodyLimit,
        observe: BodyObserver | None = None,
    ) -> None:
        self.app = app
        self.limits = tuple(limits)
        self.default = default
        self.observe = observe

    def limit_for(self, path: str) -> BodyLimit:
        """The limit of ``path``."""
        return next((lim for lim in self.limits if lim.pattern.fullmatch(path)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit.max_bytes:
            for message in _too_large(limit):
                await send(message)
            self._observe(scope, limit, 0, refused=True)
            return
        has_body = (declared is not None and declared.strip() != "0") or "chunked" in (
            _header(scope, b"transfer-encoding") or ""
        ).lower()
        received = 0
        finished = not has_body
        started = False

        async def limited_receive() -> Message:
            nonlocal received, finished
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    raise BodyTooLargeError(limit.endpoint)
                finished = not message.get("more_body", False)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not finished:  # answered before the upload ended: do not drain the rest
                    kept = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
                    message = {**message, "headers": [*kept, (b"connection", b"close")]}
            await send(message)

        refused = False
        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLargeError:
            if started:
                raise
            refused = True
            for message in _too_large(limit):
                await send(message)
        finally:
            self._observe(scope, limit, received, refused=refused)

    def _observe(self, scope: Scope, limit: BodyLimit, received: int, *, refused: bool) -> None:
        if self.observe is not None:
            self.observe(scope, limit.endpoint, received, refused)


def endpoint_limits(
    *, hook: int, feedback: int, notification: int, other: int
) -> tuple[list[BodyLimit], BodyLimit]:
    """The limits of VentFusion's endpoints (CDS service, feedback, notifications, the rest)."""
    limits = [
        BodyLimit("cds-feedback", re.compile(r"/cds-services/[^/]+/feedback"), feedback),
        BodyLimit("cds-service", re.compile(r"/cds-services/[^/]+"), hook),
        BodyLimit("fhir-notifications", re.compile(r"/fhir/notifications(/.*)?"), notification),
    ]
    return limits, BodyLimit("other", re.compile(".*"), other)
