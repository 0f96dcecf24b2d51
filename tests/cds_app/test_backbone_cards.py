"""A model on a site's film backbone, end to end: a film sent over C-STORE is embedded by the
configured backbone, stored with its identity and used on the card; a film embedded by another
backbone is not used, and the card and the page say which."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.runtime import RunningComponents
from cds_app.settings import Settings
from model import ModelError
from model.backbone.runtime import Backbone
from model.checkpoint import load_checkpoint
from model.schemas import ChestFilm, PatientKey
from tests.cds_app.hooks_helpers import call_hook
from tests.dicom_listener.films import PATIENT_ID, make_film
from tests.dicom_listener.scu import store_files
from tests.support.backbones import BackboneFiles, stored_values, typical_training_film
from tests.support.ehr import MRN_SYSTEM, TestEhr, full_prefetch, hook_request

AE_TITLE = "VFBACKBONE"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def app_client(
    sqlite_url: str,
    make_settings: Callable[..., Settings],
    backbone_checkpoint: Path,
    test_backbones: BackboneFiles,
    tmp_path: Path,
) -> Iterator[TestClient]:
    """The app as a site configures it: its checkpoint, its backbone's manifest, the listener."""
    base = make_settings(sqlite_url, demo=True)
    settings = base.model_copy(
        update={
            "model": base.model.model_copy(
                update={"checkpoint": backbone_checkpoint, "backbone": test_backbones.onnx}
            ),
            "dicom": base.dicom.model_copy(
                update={
                    "enabled": True,
                    "port": _free_port(),
                    "ae_title": AE_TITLE,
                    "spool_dir": tmp_path / "spool",
                    "min_free_bytes": 0,
                }
            ),
        }
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _card(client: TestClient, ehr: TestEhr, mrn: str) -> dict[str, object]:
    prefetch = full_prefetch(f"pt-{mrn}", mrn, now=datetime.now(UTC), severity=0.5)
    response = call_hook(client, ehr, hook_request(f"pt-{mrn}", prefetch=prefetch))
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    return dict(card)


@pytest.mark.slow
def test_a_film_sent_over_c_store_is_read_by_the_backbone_and_used(
    app_client: TestClient,
    ehr: TestEhr,
    backbone_cohort: Path,
    backbone_checkpoint: Path,
    test_backbones: BackboneFiles,
    tmp_path: Path,
) -> None:
    ctx: AppContext = app_client.app.state.ctx  # type: ignore[attr-defined]
    guard = load_checkpoint(backbone_checkpoint).applicability
    assert guard is not None
    assert guard.film is not None
    _, image = typical_training_film(backbone_cohort, guard.film)
    pixels = stored_values(image)
    acquired = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=30)
    path = make_film(tmp_path / "film.dcm", pixels=pixels,
                     acquired=acquired, tz_offset="+0000")  # fmt: skip
    running: RunningComponents = app_client.app.state.running  # type: ignore[attr-defined]
    assert running.dicom_listener is not None
    port = running.dicom_listener.port
    key = PatientKey(system=MRN_SYSTEM, value=PATIENT_ID)
    assert store_files(port, [path], called=AE_TITLE) == [0x0000]
    deadline = time.monotonic() + 60
    row = None
    while row is None and time.monotonic() < deadline:
        films = ctx.store.films(key, datetime.now(UTC), 72.0)
        row = films[0] if films else None
        time.sleep(0.1)
    assert row is not None, "the film was not stored within 60 s"
    identity = Backbone.load(test_backbones.onnx).identity
    assert row.backbone == identity  # stored with the identity of the backbone that read it
    assert row.embedding is not None
    assert len(row.embedding) == 32
    card = _card(app_client, ehr, PATIENT_ID)
    assert "Chest film not used" not in str(card["detail"])
    assert "Chest film from 30 min ago" in str(card["detail"])
    latest = ctx.predictions.latest(key)
    assert latest is not None
    assert latest.film_sop_instance_uid == row.sop_instance_uid
    assert latest.image_weight > 0.0


def test_a_film_read_by_another_backbone_is_refused_on_the_card_and_page(
    app_client: TestClient, ehr: TestEhr, backbone_cohort: Path, test_backbones: BackboneFiles
) -> None:
    ctx: AppContext = app_client.app.state.ctx  # type: ignore[attr-defined]
    other = Backbone.load(test_backbones.other)
    guard = load_checkpoint(ctx.settings.model.checkpoint).applicability  # type: ignore[arg-type]
    assert guard is not None
    assert guard.film is not None
    _, image = typical_training_film(backbone_cohort, guard.film)
    mrn = "MRN-OTHER-BACKBONE"
    key = PatientKey(system=MRN_SYSTEM, value=mrn)
    # stored earlier by a listener configured with another backbone (pixels are not kept)
    ctx.store.add_film(
        ChestFilm(
            patient_key=key,
            acquired_at=datetime.now(UTC) - timedelta(hours=3),
            sop_instance_uid="1.2.826.0.1.3680043.10.777.1",
            embedding=tuple(float(v) for v in other.embed(other.prepare(image)[None])[0]),
            embedding_model=f"backbone:{other.identity.key}",
            backbone=other.identity,
        )
    )
    expected = (
        "Chest film not used: it was read by image model other-densenet121 v2, not by "
        "test-densenet121 v1, the one this model was trained with (film from 3 h ago)"
    )
    card = _card(app_client, ehr, mrn)
    assert expected in str(card["detail"])
    latest = ctx.predictions.latest(key)
    assert latest is not None
    assert latest.image_weight == 0.0
    assert latest.film_not_used is not None
    page = app_client.get("/risk", params={"key": f"{MRN_SYSTEM}|{mrn}"}).text
    assert "it was read by image model other-densenet121 v2, not by test-densenet121 v1" in page


@pytest.mark.parametrize("configured", ["other", "none"])
def test_the_app_refuses_to_start_with_another_backbone_or_none(
    sqlite_url: str,
    make_settings: Callable[..., Settings],
    backbone_checkpoint: Path,
    test_backbones: BackboneFiles,
    configured: str,
) -> None:
    base = make_settings(sqlite_url)
    manifest = test_backbones.other if configured == "other" else None
    settings = base.model_copy(
        update={
            "model": base.model.model_copy(
                update={"checkpoint": backbone_checkpoint, "backbone": manifest}
            )
        }
    )
    expected = "is not the one" if manifest else "set VENTFUSION_MODEL__BACKBONE"
    with pytest.raises(ModelError, match=expected), TestClient(create_app(settings)):
        pass
