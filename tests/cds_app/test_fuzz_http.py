"""≥ 5,000 hostile requests across every door: the app never answers 500.

The CDS service, feedback, notifications (re-read from a FHIR server that itself answers mutated
resources) and the read-only FHIR API, each request with valid credentials so the payload reaches
the decoders: a fresh CDS Hooks JWT, the notification secret, and an access token of the test
authorization server (system-scoped, or patient-scoped to the fuzzed patient or another one).
``VENTFUSION_FUZZ_REQUESTS`` changes the count (default 5,000).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.fhir_wiring import FhirComponents
from cds_app.settings import Settings
from fhir_adapter.client import FhirClient
from fhir_adapter.ingest_state import MemoryCursorStore, MemorySeenStore
from fhir_adapter.service import build_ingest
from tests.cds_app.conftest import BASE_URL, NOTIFICATION_SECRET, READ_AUDIENCE
from tests.cds_app.fakes import FakeRiskModel
from tests.conftest import REFERENCE_DIR
from tests.support.auth_server import SYSTEM_READ, read_headers
from tests.support.ehr import MRN_SYSTEM, TestEhr
from tests.support.hostile import HostileEhr, HostileRequests, load_fixtures

REQUESTS = int(os.environ.get("VENTFUSION_FUZZ_REQUESTS", "5000"))  # read before env isolation
#: Every status a hostile request may get; 502: the EHR answered a re-read with garbage; 403: a
#: patient-scoped read token asking for another patient.
EXPECTED = {200, 400, 401, 403, 404, 405, 412, 413, 415, 502, 503}
#: (scope, patient claim) of the read API's tokens, drawn per request.
READ_GRANTS = [(SYSTEM_READ, None)] * 3 + [
    ("patient/RiskAssessment.rs", "pt-fz"),
    ("patient/RiskAssessment.rs", "pt-other"),
]


def hostile_fhir(ehr: HostileEhr, ctx: AppContext) -> FhirComponents:
    """FHIR ingest whose FHIR server is ``ehr`` (no sockets), without write-back."""

    def handler(request: httpx.Request) -> httpx.Response:
        status, body = ehr.answer(request.method, request.url.path)
        return httpx.Response(
            status, content=body, headers={"Content-Type": "application/fhir+json"}
        )

    client = FhirClient("https://ehr.example.org/fhir", retries=0,
                        transport=httpx.MockTransport(handler))  # fmt: skip
    services = build_ingest(client, ctx.measurement_sink, mrn_system=MRN_SYSTEM,
                            seen=MemorySeenStore(), cursors=MemoryCursorStore(),
                            patients=ctx.store, backfill=False)  # fmt: skip
    return FhirComponents(client, services.processor, outbox_drain=None)


def read_tokens(auth: TestEhr, seed: int = 3) -> Callable[[], dict[str, str]]:
    """``Authorization`` headers with a fresh, valid access token of a drawn grant."""
    rng = random.Random(seed)

    def headers() -> dict[str, str]:
        scope, patient = rng.choice(READ_GRANTS)
        return read_headers(auth, READ_AUDIENCE, scope, patient=patient)

    return headers


@pytest.fixture
def fuzz_client(db_url: str, read_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    app = create_app(read_settings(db_url), model=FakeRiskModel())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_no_500_over_5000_hostile_requests(
    fuzz_client: TestClient, ehr: TestEhr, auth_server: TestEhr, db_url: str
) -> None:
    """5,000 on SQLite, a quarter of that on PostgreSQL (its column limits and NUL rules).

    The status totals are printed (``-s``); see docs/benchmarks.md.
    """
    count = REQUESTS if db_url.startswith("sqlite") else REQUESTS // 4
    reference = REFERENCE_DIR if REFERENCE_DIR.is_dir() else None
    fixtures = load_fixtures(reference)
    ctx: AppContext = fuzz_client.app.state.ctx  # type: ignore[attr-defined]
    ctx.fhir = hostile_fhir(HostileEhr(fixtures, seed=11), ctx)
    requests = HostileRequests(
        fixtures,
        ehr.token,
        audience_base=BASE_URL,
        seed=7,
        read_headers=read_tokens(auth_server),
        notification_headers=lambda: {"X-VentFusion-Secret": NOTIFICATION_SECRET},
    )
    first = fuzz_client.post(
        "/cds-services/ventfusion-patient-view",
        json=fixtures.hook,
        headers=requests.cds_headers(""),
    )
    assert first.status_code == 200, first.text
    requests.card_uuid = first.json()["cards"][0]["uuid"]
    statuses: Counter[tuple[str, int]] = Counter()
    failures: list[str] = []
    for _ in range(count):
        request = requests.next()
        response = fuzz_client.request(request.method, request.path, content=request.body,
                                       headers=request.headers)  # fmt: skip
        statuses[(request.endpoint, response.status_code)] += 1
        if response.status_code not in EXPECTED and len(failures) < 5:
            failures.append(
                f"{request.endpoint} {response.status_code}: {(request.body or b'')[:300]!r}"
            )
    print(sorted(statuses.items()))
    assert not failures, failures
    assert sum(statuses.values()) == count
    by_endpoint = Counter(endpoint for endpoint, _ in statuses.elements())
    assert set(by_endpoint) == {"patient-view", "feedback", "notification", "read"}
    assert statuses[("patient-view", 200)] > 0
    assert statuses[("notification", 200)] > 0
    assert statuses[("read", 200)] > 0
    # every credential was valid: the hostile payloads reached the decoders, not the 401 path
    assert not [key for key in statuses if key[1] == 401], sorted(statuses.items())
