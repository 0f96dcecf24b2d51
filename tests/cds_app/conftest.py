"""Fixtures of the app tests: both databases, a test EHR, a configured app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from cds_app.app import create_app
from cds_app.settings import Settings
from tests.cds_app.fakes import FakeRiskModel
from tests.support.auth_server import auth_server as new_auth_server
from tests.support.auth_server import read_api_settings, read_headers
from tests.support.ehr import ISSUER, TestEhr

BASE_URL = "https://cds.example.org"
LOOPBACK_URL = "http://127.0.0.1:8000"
SERVICE_URL = f"{BASE_URL}/cds-services/ventfusion-patient-view"
PG_ENV = "VENTFUSION_TEST_DATABASE_URL"
PSEUDONYM_KEY = "test-pseudonym-key-0123456789abcdef"
NOTIFICATION_SECRET = "test-notification-secret"
READ_AUDIENCE = f"{BASE_URL}/fhir"  # the aud of the read API's access tokens


def _postgres_schema_url(base: str) -> Iterator[str]:
    schema = f"vf_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: an SQLite file, or a fresh schema on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vf.sqlite3'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    yield from _postgres_schema_url(base)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An SQLite file database (tests that need not run on both)."""
    return f"sqlite:///{tmp_path / 'vf.sqlite3'}"


@pytest.fixture(scope="session")
def ehr() -> TestEhr:
    """The test EHR and its keys (generated once per session)."""
    return TestEhr()


@pytest.fixture
def jwks_path(ehr: TestEhr, tmp_path: Path) -> Path:
    return ehr.write_jwks(tmp_path / "ehr-jwks.json")


@pytest.fixture
def make_settings(tmp_path: Path, jwks_path: Path) -> Callable[..., Settings]:
    """Settings of a test app: given database, trusted test EHR, no DICOM listener.

    Reached at ``BASE_URL`` (not loopback mode: pseudonym key and notification secret set),
    except with ``demo``/``insecure``, which are loopback-only: those get ``LOOPBACK_URL``, and
    the EHR's JWTs keep ``BASE_URL`` as their audience.
    """

    def build(database_url: str, **hooks: Any) -> Settings:
        loopback = hooks.get("demo") or hooks.get("insecure")
        return Settings.model_validate(
            {
                "database_url": database_url,
                "public_base_url": LOOPBACK_URL if loopback else BASE_URL,
                "data_dir": str(tmp_path / "var"),
                "dicom": {"enabled": False},
                "hooks": {
                    "trusted_issuers": {ISSUER: str(jwks_path)},
                    "audience": BASE_URL if loopback else "",
                    **hooks,
                },
                "fhir": {"notification_secret": NOTIFICATION_SECRET},
                "security": {"pseudonym_key": PSEUDONYM_KEY},
            }
        )

    return build


@pytest.fixture(scope="session")
def auth_server() -> TestEhr:
    """The hospital's authorization server, whose access tokens the read-only FHIR API takes."""
    return new_auth_server()


@pytest.fixture
def read_settings(
    make_settings: Callable[..., Settings], auth_server: TestEhr, tmp_path: Path
) -> Callable[..., Settings]:
    """``make_settings`` with the read-only FHIR API mounted for ``auth_server``'s tokens."""
    read_api = read_api_settings(auth_server, tmp_path)

    def build(database_url: str, **hooks: Any) -> Settings:
        return make_settings(database_url, **hooks).model_copy(update={"read_api": read_api})

    return build


@pytest.fixture
def read_auth(auth_server: TestEhr) -> Callable[[], dict[str, str]]:
    """Fresh ``Authorization`` headers of a system-scoped read API token, one per call."""
    return lambda: read_headers(auth_server, READ_AUDIENCE)


@pytest.fixture
def fake_model() -> FakeRiskModel:
    return FakeRiskModel()


@pytest.fixture
def client(
    db_url: str, make_settings: Callable[..., Settings], fake_model: FakeRiskModel
) -> Iterator[TestClient]:
    """A running app on ``db_url`` with the fake model."""
    with TestClient(create_app(make_settings(db_url), model=fake_model)) as test_client:
        yield test_client
