"""FHIR ingest as the app wires it: a notification for a new patient is scored with age and sex."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.settings import Settings
from model.schemas import PatientKey
from tests.cds_app.conftest import NOTIFICATION_SECRET
from tests.cds_app.fakes import FakeRiskModel
from tests.fhir_adapter.conftest import MRN, observation, patient, recent
from tests.support.fhir_server import FhirTestServer


@pytest.fixture
def ehr_fhir() -> Iterator[FhirTestServer]:
    server = FhirTestServer().start()
    server.deliver_notifications = False  # the test posts the notification itself
    yield server
    server.stop()


def test_notification_triggered_score_has_age_and_sex_before_any_hook(
    sqlite_url: str,
    make_settings: Callable[..., Settings],
    fake_model: FakeRiskModel,
    ehr_fhir: FhirTestServer,
) -> None:
    base = make_settings(sqlite_url)
    fhir = base.fhir.model_copy(
        update={"base_url": ehr_fhir.base_url, "mrn_system": MRN, "write_back": False}
    )
    model = base.model.model_copy(update={"debounce_s": 0.05})
    settings = base.model_copy(update={"fhir": fhir, "model": model})
    pref = "Patient/" + ehr_fhir.put(patient("MRN0077"))["id"]
    obs = ehr_fhir.put(observation("9279-1", 31, "/min", patient=pref, when=recent()))
    bundle = ehr_fhir.backport_bundle(
        {"id": "s1", "criteria": "http://example.org/topic/obs"},
        "event-notification",
        [obs],
        "full-resource",
    )
    with TestClient(create_app(settings, model=fake_model)) as client:
        answer = client.post(
            "/fhir/notifications",
            content=orjson.dumps(bundle),
            headers={
                "Content-Type": "application/fhir+json",
                "X-VentFusion-Secret": NOTIFICATION_SECRET,
            },
        )
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 10
        while not fake_model.windows and time.monotonic() < deadline:
            time.sleep(0.05)
        stored = client.app.state.ctx.store.patient(PatientKey(system=MRN, value="MRN0077"))
    assert fake_model.windows, "the notification was never scored"
    window = fake_model.windows[0]
    assert window.patient_key.value == "MRN0077"
    assert window.static.sex == "female"
    assert window.static.age_years is not None
    assert 70.0 < window.static.age_years < 90.0  # born 1956-04-02
    assert stored is not None
    assert stored.fhir_id == pref.removeprefix("Patient/")
