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

import orjson

from fhir_adapter.convert_observation import local_ref
from fhir_adapter.errors import NotificationFormatError, UnsupportedContentTypeError

JsonDict = dict[str, Any]
JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
KINDS = frozenset({"handshake", "heartbeat", "event-notification", "query-status", "query-event"})


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
    resources: dict[str, JsonDict] = field(default_factory=dict)  # full-resource payloads
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
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _check_content_type(content_type: str | None) -> None:
    if not content_type:
        return
    media = content_type.split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise UnsupportedContentTypeError(f"unsupported content type {media!r}; send FHIR JSON")


def _params(parameters: JsonDict) -> dict[str, list[JsonDict]]:
    by_name: dict[str, list[JsonDict]] = {}
    for param in parameters.get("parameter") or ():
        if isinstance(param, dict) and isinstance(param.get("name"), str):
            by_name.setdefault(param["name"], []).append(param)
    return by_name


def _value(param: JsonDict) -> Any:
    for key, value in param.items():
        if key.startswith("value"):
            if key == "valueReference" and isinstance(value, dict):
                return value.get("reference")
            return value
    return None


def _codes(concept: object) -> list[str]:
    if not isinstance(concept, dict):
        return []
    return [str(c.get("code")) for c in concept.get("coding") or () if isinstance(c, dict)]


def _status_r4(status: JsonDict) -> tuple[NotificationHint, list[NotificationEvent]]:
    params = _params(status)

    def first(name: str) -> Any:
        found = params.get(name)
        return _value(found[0]) if found else None

    events: list[NotificationEvent] = []
    for event in params.get("notification-event", []):
        parts = _params({"parameter": event.get("part") or []})
        number = _value(parts["event-number"][0]) if "event-number" in parts else None
        focus = _value(parts["focus"][0]) if "focus" in parts else None
        stamp = _value(parts["timestamp"][0]) if "timestamp" in parts else None
        events.append(NotificationEvent(_int(number), local_ref(focus), stamp))
    errors = [code for p in params.get("error", []) for code in _codes(_value(p))]
    hint = NotificationHint(
        style="backport-r4",
        kind=str(first("type") or ""),
        subscription=local_ref(first("subscription")),
        topic=first("topic"),
        status=first("status"),
        events_since_start=_int(first("events-since-subscription-start")),
        errors=tuple(errors),
    )
    return hint, events


def _status_r4b(status: JsonDict) -> tuple[NotificationHint, list[NotificationEvent]]:
    events = [
        NotificationEvent(
            _int(e.get("eventNumber")),
            local_ref((e.get("focus") or {}).get("reference")),
            e.get("timestamp"),
        )
        for e in status.get("notificationEvent") or ()
        if isinstance(e, dict)
    ]
    hint = NotificationHint(
        style="backport-r4b",
        kind=str(status.get("type") or ""),
        subscription=local_ref((status.get("subscription") or {}).get("reference")),
        topic=status.get("topic"),
        status=status.get("status"),
        events_since_start=_int(status.get("eventsSinceSubscriptionStart")),
        errors=tuple(code for err in status.get("error") or () for code in _codes(err)),
    )
    return hint, events


def _backport(bundle: JsonDict) -> NotificationHint:
    entries = [e for e in bundle.get("entry") or () if isinstance(e, dict)]
    status = entries[0].get("resource") if entries else None
    if not isinstance(status, dict):
        raise NotificationFormatError("notification Bundle without a status first entry")
    if status.get("resourceType") == "Parameters":
        hint, events = _status_r4(status)
    elif status.get("resourceType") == "SubscriptionStatus":
        hint, events = _status_r4b(status)
    else:
        raise NotificationFormatError(
            "first entry of a notification Bundle must be Parameters or SubscriptionStatus"
        )
    if hint.kind not in KINDS:
        raise NotificationFormatError(f"unknown notification type {hint.kind!r}")
    resources: dict[str, JsonDict] = {}
    for entry in entries[1:]:
        resource = entry.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") and resource.get("id"):
            resources[f"{resource['resourceType']}/{resource['id']}"] = resource
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
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise NotificationFormatError(f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise NotificationFormatError("body is not a FHIR resource")
    if data["resourceType"] == "Bundle" and data.get("type") == "history":
        return _backport(data)
    if data["resourceType"] in ("Bundle", "Parameters", "SubscriptionStatus", "OperationOutcome"):
        raise NotificationFormatError(f"{data['resourceType']} is not a notification")
    rid = data.get("id")
    ref = f"{data['resourceType']}/{rid}" if isinstance(rid, str) and rid else local_ref(path_hint)
    if ref is None:
        raise NotificationFormatError("resource notification without an id")
    return NotificationHint(
        style="rest-hook-resource",
        kind="event-notification",
        events=(NotificationEvent(None, ref),),
        resources={ref: data} if rid else {},
    )
