"""Notification parsing: every HL7 Backport IG example bundle, R4 rest-hook styles, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from fhir_adapter.errors import NotificationFormatError, UnsupportedContentTypeError
from fhir_adapter.notification_parsing import parse_notification

ENCOUNTER = "Encounter/86009987-eabe-42bf-8c02-b112b18cb616"
PATIENT = "Patient/1599eb66-431a-447c-a3de-6897fe9ae9a1"
FHIR_JSON = "application/fhir+json"

# file stem (without the r4/r4b prefix) -> (kind, payload, focus refs, errors)
EXPECTED: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "notification-empty": ("event-notification", "empty", (), ()),
    "notification-empty-with-auth": ("event-notification", "empty", (), ()),
    "notification-error": ("query-status", "empty", (), ("no-response",)),
    "notification-full-resource": ("event-notification", "full-resource", (ENCOUNTER,), ()),
    "notification-full-resource-with-query": (
        "event-notification",
        "full-resource",
        (ENCOUNTER,),
        (),
    ),
    "notification-handshake": ("handshake", "empty", (), ()),
    "notification-heartbeat": ("heartbeat", "empty", (), ()),
    "notification-id-only": ("event-notification", "id-only", (ENCOUNTER,), ()),
    "notification-id-only-with-auth": ("event-notification", "id-only", (ENCOUNTER,), ()),
    "notification-id-only-with-query": ("event-notification", "id-only", (ENCOUNTER,), ()),
    "notification-multi-resource": (
        "event-notification",
        "full-resource",
        (ENCOUNTER, PATIENT),
        (),
    ),
}


def _bundles(reference_dir: Path) -> list[Path]:
    found = sorted((reference_dir / "subscriptions-backport").glob("r4*/Bundle-*.json"))
    assert len(found) == 22
    return found


def test_every_backport_example_bundle_parses(reference_dir: Path) -> None:
    for path in _bundles(reference_dir):
        flavour, _, stem = path.stem.removeprefix("Bundle-").partition("-")
        hint = parse_notification(path.read_bytes(), FHIR_JSON)
        kind, payload, focus, errors = EXPECTED[stem]
        assert hint.style == f"backport-{flavour}", path.name
        assert (hint.kind, hint.payload, hint.focus_refs, hint.errors) == (
            kind,
            payload,
            focus,
            errors,
        ), path.name
        assert hint.subscription == "Subscription/admission"
        assert hint.topic == "http://hl7.org/SubscriptionTopic/admission"


def test_event_numbers_and_counts(reference_dir: Path) -> None:
    base = reference_dir / "subscriptions-backport"
    for path in (
        base / "r4/Bundle-r4-notification-id-only.json",
        base / "r4b/Bundle-r4b-notification-id-only.json",
    ):
        hint = parse_notification(path.read_bytes(), "application/fhir+json; charset=utf-8")
        assert hint.events_since_start == 2
        assert [e.number for e in hint.events] == [2]


def test_full_resource_payload_is_kept_for_dedup_only(reference_dir: Path) -> None:
    path = reference_dir / "subscriptions-backport/r4b/Bundle-r4b-notification-full-resource.json"
    hint = parse_notification(path.read_bytes(), FHIR_JSON)
    assert orjson.loads(bytes(hint.resources[ENCOUNTER]))["status"] == "in-progress"


def test_status_resources_alone_are_not_notifications(reference_dir: Path) -> None:
    base = reference_dir / "subscriptions-backport"
    for path in (
        base / "r4/Parameters-r4-notification-status.json",
        base / "r4b/SubscriptionStatus-r4b-notification-status.json",
    ):
        with pytest.raises(NotificationFormatError):
            parse_notification(path.read_bytes(), FHIR_JSON)


def test_r4_rest_hook_styles() -> None:
    empty = parse_notification(b"", None)
    assert (empty.style, empty.kind, empty.payload) == (
        "rest-hook-empty",
        "event-notification",
        "empty",
    )
    body = json.dumps({"resourceType": "Observation", "id": "o9", "status": "final"}).encode()
    put = parse_notification(body, "application/fhir+json", "Observation/o9")
    assert (put.style, put.focus_refs, put.payload) == (
        "rest-hook-resource",
        ("Observation/o9",),
        "full-resource",
    )
    no_id = parse_notification(
        b'{"resourceType": "Observation"}', "application/json", "Observation/o10"
    )
    assert no_id.focus_refs == ("Observation/o10",)
    assert no_id.payload == "id-only"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"resourceType": "Bundle", "type": "history", "entry": []}',
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "history",
                "entry": [{"resource": {"resourceType": "Patient"}}],
            }
        ).encode(),
        b'{"resourceType": "Bundle", "type": "searchset"}',
        b'{"no": "resourceType"}',
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "history",
                "entry": [{"resource": {"resourceType": "SubscriptionStatus", "type": "party"}}],
            }
        ).encode(),
    ],
)
def test_malformed_bodies_raise(body: bytes) -> None:
    with pytest.raises(NotificationFormatError):
        parse_notification(body, FHIR_JSON)


def test_xml_is_unsupported() -> None:
    with pytest.raises(UnsupportedContentTypeError):
        parse_notification(b"<Bundle xmlns='http://hl7.org/fhir'/>", "application/fhir+xml")


def _status_bundle(status: object, *more: object) -> bytes:
    entries = [{"resource": status}, *({"resource": r} for r in more)]
    return orjson.dumps({"resourceType": "Bundle", "type": "history", "entry": entries})


def test_type_confusion_is_a_format_error_never_a_crash() -> None:
    """Each body once raised TypeError/AttributeError (the issue's notification_parsing lines)."""
    params = {"resourceType": "Parameters"}
    hostile = [
        _status_bundle({**params, "parameter": 5}),
        _status_bundle({**params, "parameter": [{"name": "notification-event", "part": 7}]}),
        _status_bundle({**params, "parameter": [{"name": ["type"], "valueCode": "heartbeat"}]}),
        _status_bundle(
            {"resourceType": "SubscriptionStatus", "notificationEvent": [{"focus": []}]}
        ),
        _status_bundle({"resourceType": "SubscriptionStatus", "subscription": "Subscription/1"}),
        _status_bundle({"resourceType": "SubscriptionStatus", "error": {"coding": 1}}),
        orjson.dumps({"resourceType": "Bundle", "type": "history", "entry": {"a": 1}}),
        orjson.dumps({"resourceType": ["Bundle"]}),
        orjson.dumps([1, 2]),
        b"\xff\xfe{}",
    ]
    for body in hostile:
        with pytest.raises(NotificationFormatError):
            parse_notification(body, FHIR_JSON)


def test_event_numbers_are_bounded_and_odd_focus_is_ignored() -> None:
    status = {
        "resourceType": "SubscriptionStatus",
        "type": "event-notification",
        "subscription": {"reference": "Subscription/s1"},
        "eventsSinceSubscriptionStart": "9" * 400,
        "notificationEvent": [
            {"eventNumber": "9" * 400, "focus": {"reference": "Observation/o\x001"}},
            {"eventNumber": -3, "focus": {"reference": "Observation/" + "x" * 100}},
            {"eventNumber": 7, "focus": {"reference": "Observation/o7"}},
        ],
    }
    hint = parse_notification(_status_bundle(status), FHIR_JSON)
    assert hint.events_since_start is None
    assert [(e.number, e.focus) for e in hint.events] == [
        (None, None),
        (None, None),
        (7, "Observation/o7"),
    ]
