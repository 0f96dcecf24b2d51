"""Subscription notifications -> ``NotificationHint`` (both styles, every payload kind).

Styles understood:

* R4 criteria-based rest-hook: an empty POST (``payload`` absent) or a POST/PUT of the changed
  resource itself (``payload`` = application/fhir+json).
* Subscriptions R5 Backport: a ``history`` Bundle whose first entry is the status, a ``Parameters``
  (R4 profile) or a ``SubscriptionStatus`` (R4B), of type handshake / heartbeat /
  event-notification / query-status / query-event, with empty, id-only or full-resource content.

A hint only says *what may have changed*; the processor re-reads it from the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from fhir_adapter.errors import NotificationFormatError, UnsupportedContentTypeError
from fhir_adapter.resources import (
    Bundle,
    CodeableConcept,
    Parameters,
    ParametersParameter,
    ResourceHeader,
    SubscriptionStatus,
    decode,
)
from fhir_adapter.values import local_ref

JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
KINDS = frozenset({"handshake", "heartbeat", "event-notification", "query-status", "query-event"})
MAX_EVENT_NUMBER = 2**63 - 1  # integer64, and the database column


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """One ``notification-event``: its number and the focus reference (``Type/id``)."""

    number: int | None
    focus: str | None
    timestamp: str | None = None


@dataclass(frozen=True, slots=True)
class NotificationHint:
    """What a notification says, reduced to what the processor needs."""

    style: str  # "rest-hook-empty" | "rest-hook-resource" | "backport-r4" | "backport-r4b"
    kind: str  # handshake | heartbeat | event-notification | query-status | query-event
    subscription: str | None = None  # "Subscription/<id>"
    topic: str | None = None
    status: str | None = None
    events_since_start: int | None = None
    events: tuple[NotificationEvent, ...] = ()
    #: full-resource payloads as raw JSON by ``Type/id`` (only their version is ever read)
    resources: dict[str, msgspec.Raw] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    @property
    def focus_refs(self) -> tuple[str, ...]:
        """Distinct focus references, in event order, then any other included resource."""
        refs = [e.focus for e in self.events if e.focus]
        refs.extend(self.resources)
        return tuple(dict.fromkeys(refs))

    @property
    def payload(self) -> str:
        """``empty``, ``id-only`` or ``full-resource`` as far as the body tells."""
        if self.resources:
            return "full-resource"
        return "id-only" if any(e.focus for e in self.events) else "empty"


def _int(value: object) -> int | None:
    """An event number / count (a JSON string or number), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= MAX_EVENT_NUMBER else None


def _text(value: object) -> str | None:
    return value[:300] if isinstance(value, str) else None


def _check_content_type(content_type: str | None) -> None:
    if not content_type:
        return
    media = content_type.split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise UnsupportedContentTypeError(
            f"unsupported content type {media[:80]!r}; send FHIR JSON"
        )


def _params(parameters: list[ParametersParameter]) -> dict[str, list[ParametersParameter]]:
    by_name: dict[str, list[ParametersParameter]] = {}
    for param in parameters:
        by_name.setdefault(param.name, []).append(param)
    return by_name


def _codes(concept: object) -> list[str]:
    if not isinstance(concept, CodeableConcept):
        return []
    return [str(c.code) for c in concept.coding if c.code]


def _status_r4(status: Parameters) -> tuple[NotificationHint, list[NotificationEvent]]:
    params = _params(status.parameter)

    def first(name: str, within: dict[str, list[ParametersParameter]] = params) -> object:
        found = within.get(name)
        return found[0].value() if found else None

    events: list[NotificationEvent] = []
    for event in params.get("notification-event", []):
        parts = _params(event.part)
        focus = first("focus", parts)
        events.append(
            NotificationEvent(
                _int(first("event-number", parts)),
                local_ref(focus if isinstance(focus, str) else None),
                _text(first("timestamp", parts)),
            )
        )
    errors = [code for p in params.get("error", []) for code in _codes(p.value())]
    subscription = first("subscription")
    hint = NotificationHint(
        style="backport-r4",
        kind=str(first("type") or ""),
        subscription=local_ref(subscription if isinstance(subscription, str) else None),
        topic=_text(first("topic")),
        status=_text(first("status")),
        events_since_start=_int(first("events-since-subscription-start")),
        errors=tuple(errors),
    )
    return hint, events


def _status_r4b(status: SubscriptionStatus) -> tuple[NotificationHint, list[NotificationEvent]]:
    events = [
        NotificationEvent(
            _int(e.eventNumber),
            local_ref(e.focus.reference if e.focus else None),
            _text(e.timestamp),
        )
        for e in status.notificationEvent
    ]
    hint = NotificationHint(
        style="backport-r4b",
        kind=status.type,
        subscription=local_ref(status.subscription.reference if status.subscription else None),
        topic=_text(status.topic),
        status=_text(status.status),
        events_since_start=_int(status.eventsSinceSubscriptionStart),
        errors=tuple(code for err in status.error for code in _codes(err)),
    )
    return hint, events


def _decode_part(raw: msgspec.Raw | bytes, model: type[Any], what: str) -> Any:
    try:
        return decode(raw, model)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise NotificationFormatError(f"{what} is malformed: {exc}") from exc


def _backport(body: bytes) -> NotificationHint:
    bundle: Bundle = _decode_part(body, Bundle, "notification Bundle")
    entries = [e for e in bundle.entry if e.has_resource]
    if not entries:
        raise NotificationFormatError("notification Bundle without a status first entry")
    status_raw = entries[0].resource
    header: ResourceHeader = _decode_part(status_raw, ResourceHeader, "the status entry")
    if header.resourceType == "Parameters":
        hint, events = _status_r4(_decode_part(status_raw, Parameters, "the Parameters status"))
    elif header.resourceType == "SubscriptionStatus":
        status = _decode_part(status_raw, SubscriptionStatus, "the SubscriptionStatus")
        hint, events = _status_r4b(status)
    else:
        raise NotificationFormatError(
            "first entry of a notification Bundle must be Parameters or SubscriptionStatus"
        )
    if hint.kind not in KINDS:
        raise NotificationFormatError(f"unknown notification type {hint.kind[:64]!r}")
    resources: dict[str, msgspec.Raw] = {}
    for entry in entries[1:]:
        try:
            included = decode(entry.resource, ResourceHeader)
        except (msgspec.ValidationError, msgspec.DecodeError):
            continue  # not a resource: nothing to re-read from it
        ref = local_ref(included.ref)
        if ref is not None:
            resources[ref] = entry.resource
    return NotificationHint(
        style=hint.style,
        kind=hint.kind,
        subscription=hint.subscription,
        topic=hint.topic,
        status=hint.status,
        events_since_start=hint.events_since_start,
        events=tuple(events),
        resources=resources,
        errors=hint.errors,
    )


def parse_notification(
    body: bytes, content_type: str | None, path_hint: str = ""
) -> NotificationHint:
    """Classify a notification body; raise NotificationFormatError / UnsupportedContentTypeError.

    ``path_hint`` is the request path after the endpoint (``Observation/123`` when an R4 server
    PUTs the resource to ``<endpoint>/Observation/123``).
    """
    if not body.strip():
        return NotificationHint(style="rest-hook-empty", kind="event-notification")
    _check_content_type(content_type)
    header: ResourceHeader = _decode_part(body, ResourceHeader, "the body")
    kind = header.resourceType
    if kind == "Bundle":
        bundle_type = _decode_part(body, _BundleType, "the Bundle").type
        if bundle_type == "history":
            return _backport(body)
    if kind in ("Bundle", "Parameters", "SubscriptionStatus", "OperationOutcome"):
        raise NotificationFormatError(f"{kind[:64]} is not a notification")
    rid = header.id if isinstance(header.id, str) and header.id else None
    ref = local_ref(header.ref) if rid else local_ref(path_hint)
    if ref is None:
        raise NotificationFormatError("resource notification without a valid id")
    return NotificationHint(
        style="rest-hook-resource",
        kind="event-notification",
        events=(NotificationEvent(None, ref),),
        resources={ref: msgspec.Raw(body)} if rid else {},
    )


class _BundleType(msgspec.Struct, frozen=True):
    type: str | None = None
