"""Notification Bundles of the test FHIR server (Subscriptions R5 Backport, R4 and R4B status)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]


def notification_bundle(
    base_url: str,
    sub: Json,
    kind: str,
    resources: list[Json],
    content: str,
    total: int,
    status_style: str,
) -> Json:
    """A ``history`` Bundle: Parameters (``r4``) or SubscriptionStatus (``r4b``) first."""
    sub_ref = f"{base_url}/Subscription/{sub['id']}"
    first = total - len(resources) + 1
    events = (
        [
            (str(first + i), f"{base_url}/{r['resourceType']}/{r['id']}")
            for i, r in enumerate(resources)
        ]
        if content != "empty"
        else []
    )
    if status_style == "r4b":
        status: Json = {
            "resourceType": "SubscriptionStatus",
            "id": str(uuid.uuid4()),
            "type": kind,
            "status": "active",
            "subscription": {"reference": sub_ref},
            "topic": sub.get("criteria"),
            "eventsSinceSubscriptionStart": str(total),
            "notificationEvent": [{"eventNumber": n, "focus": {"reference": f}} for n, f in events],
        }
    else:
        params = [
            {"name": "subscription", "valueReference": {"reference": sub_ref}},
            {"name": "topic", "valueCanonical": sub.get("criteria")},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": kind},
            {"name": "events-since-subscription-start", "valueString": str(total)},
        ] + [
            {
                "name": "notification-event",
                "part": [
                    {"name": "event-number", "valueString": n},
                    {"name": "focus", "valueReference": {"reference": f}},
                ],
            }
            for n, f in events
        ]
        status = {"resourceType": "Parameters", "id": str(uuid.uuid4()), "parameter": params}
    entries: list[Json] = [{"fullUrl": f"urn:uuid:{status['id']}", "resource": status}]
    if content == "full-resource":
        entries += [
            {
                "fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
                "response": {"status": "200"},
            }
            for r in resources
        ]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "history",
        "timestamp": datetime.now(UTC).isoformat(),
        "entry": entries,
    }
