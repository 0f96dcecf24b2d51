"""Subscription resources we ask the EHR to create: R4 criteria-based and R5 Backport."""

from __future__ import annotations

from typing import Any, Literal

JsonDict = dict[str, Any]
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
Payload = Literal["empty", "id-only", "full-resource"]

#: The Observation search our criteria-based subscription asks for.
DEFAULT_CRITERIA = "Observation?category=vital-signs,laboratory"


def build_r4_subscription(
    endpoint: str,
    *,
    criteria: str = DEFAULT_CRITERIA,
    payload: bool = True,
    headers: list[str] | None = None,
    reason: str = "VentFusion: ventilation risk from vital signs and labs",
) -> JsonDict:
    """An R4 criteria-based rest-hook Subscription (payload absent: empty POSTs)."""
    channel: JsonDict = {"type": "rest-hook", "endpoint": endpoint}
    if payload:
        channel["payload"] = "application/fhir+json"
    if headers:
        channel["header"] = list(headers)
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": reason,
        "criteria": criteria,
        "channel": channel,
    }


def build_backport_subscription(
    endpoint: str,
    *,
    topic: str,
    filter_criteria: str = "Observation?category=vital-signs,laboratory",
    payload: Payload = "id-only",
    headers: list[str] | None = None,
    heartbeat_s: int = 300,
    max_count: int = 50,
    reason: str = "VentFusion: ventilation risk from vital signs and labs",
) -> JsonDict:
    """A Subscriptions R5 Backport (R4 profile) topic-based rest-hook Subscription."""
    channel: JsonDict = {
        "extension": [
            {"url": f"{BACKPORT}/backport-heartbeat-period", "valueUnsignedInt": heartbeat_s},
            {"url": f"{BACKPORT}/backport-timeout", "valueUnsignedInt": 30},
            {"url": f"{BACKPORT}/backport-max-count", "valuePositiveInt": max_count},
        ],
        "type": "rest-hook",
        "endpoint": endpoint,
        "payload": "application/fhir+json",
        "_payload": {
            "extension": [{"url": f"{BACKPORT}/backport-payload-content", "valueCode": payload}]
        },
    }
    if headers:
        channel["header"] = list(headers)
    return {
        "resourceType": "Subscription",
        "meta": {"profile": [f"{BACKPORT}/backport-subscription"]},
        "status": "requested",
        "reason": reason,
        "criteria": topic,
        "_criteria": {
            "extension": [
                {"url": f"{BACKPORT}/backport-filter-criteria", "valueString": filter_criteria}
            ]
        },
        "channel": channel,
    }


def subscription_matches(existing: JsonDict, wanted: JsonDict) -> bool:
    """Same endpoint, criteria, filter and payload content: the subscription is already there."""

    def signature(sub: JsonDict) -> tuple[Any, ...]:
        channel = sub.get("channel") or {}
        filters = [
            e.get("valueString") for e in (sub.get("_criteria") or {}).get("extension") or ()
        ]
        content = [
            e.get("valueCode") for e in (channel.get("_payload") or {}).get("extension") or ()
        ]
        return (
            channel.get("endpoint"),
            sub.get("criteria"),
            tuple(filters),
            channel.get("payload"),
            tuple(content),
        )

    return signature(existing) == signature(wanted)
