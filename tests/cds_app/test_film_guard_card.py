"""With the bundled model, a real chest film (RG1 of pydicom-data, decoded as the DICOM listener
decodes it) is not used and the card and the page say why; a simulator film is used."""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.settings import Settings
from dicom_listener.convert import read_film
from model.predictor import Predictor
from model.schemas import ChestFilm, PatientKey
from tests.cds_app.hooks_helpers import call_hook
from tests.dicom_listener.films import LIMITS
from tests.support.ehr import MRN_SYSTEM, TestEhr, full_prefetch, hook_request
from tests.support.synthetic_films import simulator_display

NOT_USED = "Chest film not used: it does not resemble the films this model was trained on"


@pytest.fixture(scope="module")
def bundled() -> Predictor:
    return Predictor.load()


@pytest.fixture
def app_client(
    sqlite_url: str, make_settings: Callable[..., Settings], bundled: Predictor
) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(sqlite_url, demo=True), model=bundled)) as client:
        yield client


def _rg1() -> np.ndarray:
    path = Path(str(importlib.resources.files("data_store") / "data" / "RG1_UNCR.dcm"))
    return read_film(path, ZoneInfo("UTC"), LIMITS).display_image()


def _call_with_film(
    client: TestClient, ehr: TestEhr, mrn: str, image: np.ndarray | None
) -> dict[str, object]:
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    if image is not None:
        ctx.film_sink.add_film(
            ChestFilm(
                patient_key=PatientKey(system=MRN_SYSTEM, value=mrn),
                acquired_at=now - timedelta(hours=3),
                sop_instance_uid=f"1.2.826.0.1.3680043.10.{len(mrn)}{abs(hash(mrn)) % 10**6}",
                pixels=np.asarray(image, np.float32),
            )
        )
    prefetch = full_prefetch(f"pt-{mrn}", mrn, now=now, severity=0.5)
    response = call_hook(client, ehr, hook_request(f"pt-{mrn}", prefetch=prefetch))
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    return dict(card)


def test_real_film_is_not_used_and_the_card_and_page_say_why(
    app_client: TestClient, ehr: TestEhr
) -> None:
    without = _call_with_film(app_client, ehr, "MRN-NOFILM", None)
    card = _call_with_film(app_client, ehr, "MRN-RG1", _rg1())
    assert NOT_USED in str(card["detail"])
    assert card["summary"] == without["summary"]  # the same risk as without the film
    ctx: AppContext = app_client.app.state.ctx  # type: ignore[attr-defined]
    key = PatientKey(system=MRN_SYSTEM, value="MRN-RG1")
    latest = ctx.predictions.latest(key)
    assert latest is not None
    assert latest.image_weight == 0.0
    assert latest.film_not_used is not None
    reference = ctx.predictions.latest(PatientKey(system=MRN_SYSTEM, value="MRN-NOFILM"))
    assert reference is not None
    # the same charted data (the two calls' clocks differ by milliseconds, hence the tolerance)
    assert latest.probability == pytest.approx(reference.probability, abs=1e-5)
    page = app_client.get("/risk", params={"key": f"{MRN_SYSTEM}|MRN-RG1"}).text
    assert NOT_USED in page


def test_simulator_film_is_used(app_client: TestClient, ehr: TestEhr) -> None:
    card = _call_with_film(app_client, ehr, "MRN-SIM", simulator_display(256, consolidation=0.5))
    assert "Chest film from 3 h ago" in str(card["detail"])
    assert NOT_USED not in str(card["detail"])
