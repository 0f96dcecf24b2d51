"""schemathesis against the app's own OpenAPI document: no operation ever answers 500.

The request bodies the typed edge decodes are in the document (``cds_app/api/openapi.py``), so
schemathesis generates CDS Hooks requests, feedback and FHIR notifications from their schemas
(and breaks them); CDS calls carry a fresh valid JWT for their exact URL, notifications the shared
secret, and reads of the read-only FHIR API an access token of the test authorization server, so
every generated case reaches the decoders rather than a 401. Bounded per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from cds_app.app import create_app
from cds_app.settings import Settings
from tests.cds_app.conftest import BASE_URL, NOTIFICATION_SECRET, PSEUDONYM_KEY, READ_AUDIENCE
from tests.cds_app.fakes import FakeRiskModel
from tests.fhir_adapter.conftest import serve
from tests.support.auth_server import AUTH_ISS, read_headers
from tests.support.ehr import ISSUER, TestEhr


def _settings(data_dir: Path, jwks: Path, auth_jwks: Path) -> Settings:
    return Settings.model_validate(
        {
            "database_url": f"sqlite:///{data_dir / 'vf.sqlite3'}",
            "public_base_url": BASE_URL,
            "data_dir": str(data_dir),
            "dicom": {"enabled": False},
            "hooks": {"trusted_issuers": {ISSUER: str(jwks)}},
            "read_api": {"issuer": AUTH_ISS, "jwks": str(auth_jwks)},
            "fhir": {"notification_secret": NOTIFICATION_SECRET},
            "security": {"pseudonym_key": PSEUDONYM_KEY},
        }
    )


_nowhere = Path("/nonexistent")
schema = schemathesis.openapi.from_dict(
    create_app(_settings(_nowhere, _nowhere, _nowhere)).openapi()
).include(path_regex="^/(cds-services|fhir/)")


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, ehr: TestEhr, auth_server: TestEhr
) -> Iterator[str]:
    root = tmp_path_factory.mktemp("openapi-fuzz")
    jwks, auth_jwks = ehr.write_jwks(root / "jwks.json"), auth_server.write_jwks(root / "a.json")
    app = create_app(_settings(root, jwks, auth_jwks), model=FakeRiskModel())
    with serve(app) as base:
        yield base


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_500(case: Any, live: str, ehr: TestEhr, auth_server: TestEhr) -> None:
    headers: dict[str, str] = dict(case.headers or {})
    if case.path.startswith("/cds-services"):
        headers["Authorization"] = f"Bearer {ehr.token(BASE_URL + case.formatted_path)}"
    elif case.path.startswith("/fhir/notifications"):
        headers["X-VentFusion-Secret"] = NOTIFICATION_SECRET
    else:
        headers.update(read_headers(auth_server, READ_AUDIENCE))
    response = case.call(base_url=live, headers=headers, timeout=30)
    assert response.status_code < 500 or response.status_code in (502, 503), response.text[:500]
