"""How the demo reaches the app: FHIR notifications, DICOM C-STORE, CDS Hooks calls."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from pynetdicom import AE, StoragePresentationContexts

from cds_app.demo.ehr_server import DemoEhrKey

JsonDict = dict[str, Any]
SERVICE_ID = "ventfusion-patient-view"


def notification(refs: list[str], subscription: str, first_event: int) -> JsonDict:
    """A Subscriptions-Backport (R4) id-only notification Bundle for ``refs``."""
    events = [
        {
            "name": "notification-event",
            "part": [
                {"name": "event-number", "valueString": str(first_event + i)},
                {"name": "timestamp", "valueInstant": datetime.now(UTC).isoformat()},
                {"name": "focus", "valueReference": {"reference": ref}},
            ],
        }
        for i, ref in enumerate(refs)
    ]
    status = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "subscription", "valueReference": {"reference": subscription}},
            {"name": "topic", "valueCanonical": "http://example.org/topics/observation"},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "event-notification"},
            {"name": "events-since-subscription-start",
             "valueString": str(first_event + len(refs) - 1)},
            *events,
        ],
    }  # fmt: skip
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "history",
        "timestamp": datetime.now(UTC).isoformat(),
        "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": status}],
    }


def send_films(datasets: list[Any], port: int, ae_title: str) -> int:
    """C-STORE ``datasets`` to the app's listener on loopback; return how many succeeded."""
    if not datasets:
        return 0
    ae = AE(ae_title="VFDEMOPACS")
    ae.requested_contexts = StoragePresentationContexts
    assoc = ae.associate("127.0.0.1", port, ae_title=ae_title)
    if not assoc.is_established:
        return 0
    stored = 0
    try:
        for ds in datasets:
            status = assoc.send_c_store(ds)
            if status and getattr(status, "Status", 0xFFFF) == 0x0000:
                stored += 1
    finally:
        assoc.release()
    return stored


def fire_patient_view(
    client: httpx.Client, base_url: str, key: DemoEhrKey, patient_id: str, prefetch: JsonDict
) -> httpx.Response:
    """One ``patient-view`` call signed by the demo EHR."""
    aud = f"{base_url}/cds-services/{SERVICE_ID}"
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/demo-clinician", "patientId": patient_id},
        "prefetch": prefetch,
    }
    return client.post(
        f"/cds-services/{SERVICE_ID}",
        json=body,
        headers={"Authorization": f"Bearer {key.token(aud)}"},
    )
