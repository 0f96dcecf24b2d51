"""`ventfusion dicom-listen` as an operator runs it: directory sink, and the database + model."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydicom import dcmread

from dicom_listener.directory_sink import DirectoryFilmSink
from tests.dicom_listener.films import PATIENT_ID, make_film
from tests.dicom_listener.scu import echo, store_files
from tests.support.synthetic_films import simulator_film

from .conftest import AE_TITLE, PATIENT_SYSTEM

VENTFUSION = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "ventfusion"
#: Current vital signs of the film's patient: without them the app shows no risk at all.
VITALS = (("heart_rate", 96.0, "/min"), ("resp_rate", 24.0, "/min"), ("spo2", 93.0, "%"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_listener(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    if not VENTFUSION.exists():
        pytest.skip("the ventfusion console script is not installed in .venv")
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [str(VENTFUSION), "dicom-listen", *args], env=env, stdout=handle, stderr=handle
        )


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 90
    while echo(port) != 0x0000:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"listener did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.25)


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(5)


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "VENTFUSION_DICOM__AE_TITLE": AE_TITLE,
        "VENTFUSION_DICOM__PORT": str(port),
        "VENTFUSION_DICOM__SPOOL_DIR": str(tmp_path / "spool"),
        "VENTFUSION_DATA_DIR": str(tmp_path / "var"),
        "VENTFUSION_PATIENT_ID_SYSTEM": PATIENT_SYSTEM,
        "VENTFUSION_TIMEZONE": "Europe/Berlin",
    }


@pytest.mark.slow
def test_dicom_listen_with_a_directory_sink(tmp_path: Path) -> None:
    port = _free_port()
    out, log = tmp_path / "out", tmp_path / "listener.log"
    process = _run_listener(["--out", str(out), "--no-model"], _env(tmp_path, port), log)
    try:
        _wait_ready(process, port, log)
        film = make_film(tmp_path / "f.dcm")
        assert store_files(port, [film]) == [0x0000]
        uid = str(dcmread(film).SOPInstanceUID)
        sink = DirectoryFilmSink(out)
        deadline = time.monotonic() + 30
        while not sink.added_uids() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        assert _stop(process) == 0
    assert sink.added_uids() == [uid]
    assert (tmp_path / "spool" / "done" / uid).exists()


@pytest.mark.slow
def test_dicom_listen_stores_the_film_and_updates_the_prediction(tmp_path: Path) -> None:
    from cds_app.db.predictions import PredictionRepository
    from cds_app.db.session import make_engine
    from cds_app.db.store import Store
    from model.schemas import Measurement, PatientKey

    port, metrics_port = _free_port(), _free_port()
    database = f"sqlite:///{tmp_path / 'ventfusion.sqlite3'}"
    env = {
        **_env(tmp_path, port),
        "DATABASE_URL": database,
        "VENTFUSION_MODEL__DEBOUNCE_S": "0.1",
        "VENTFUSION_DICOM__METRICS_PORT": str(metrics_port),
    }
    log = tmp_path / "listener.log"
    process = _run_listener([], env, log)
    try:
        _wait_ready(process, port, log)  # the listener has migrated the database
        engine = make_engine(database)
        key = PatientKey(system=PATIENT_SYSTEM, value=PATIENT_ID)
        store, predictions = Store(engine), PredictionRepository(engine)
        charted = datetime.now(UTC) - timedelta(minutes=20)  # vitals are current: scorable
        store.add_measurements(
            [Measurement(patient_key=key, variable=v, value=x, unit=u, time=charted,
                         source_id=f"Observation/{v}") for v, x, u in VITALS]
        )  # fmt: skip
        now = datetime.now(UTC).replace(tzinfo=None)
        # a film like the bundled model's training films (its applicability guard refuses others)
        pixels = simulator_film(128, bits=12)
        film = make_film(tmp_path / "f.dcm", acquired=now, tz_offset="+0000", pixels=pixels)
        uid = str(dcmread(film).SOPInstanceUID)
        assert store_files(port, [film]) == [0x0000]
        deadline = time.monotonic() + 60
        latest = None
        while time.monotonic() < deadline:
            latest = predictions.latest(key)
            if latest is not None and latest.film_sop_instance_uid == uid:
                break
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as response:
            metrics = response.read().decode()
    finally:
        assert _stop(process) == 0
    row = store.film_by_uid(uid)
    assert row is not None
    assert latest is not None, log.read_text()[-3000:]
    assert latest.film_sop_instance_uid == uid
    assert latest.image_weight > 0.0
    engine.dispose()
    assert 'ventfusion_dicom_cstore_total{status="0x0000"} 1.0' in metrics
    assert 'ventfusion_dicom_processed_total{outcome="film"} 1.0' in metrics
    assert "ventfusion_dicom_quarantine_instances 0.0" in metrics
    output = log.read_text()
    assert "alembic" not in output  # one line of our own instead of a dozen at every start
    assert "database schema migrated from empty to" in output
    assert "Traceback" not in output


def test_settings_map_onto_the_listener_config(tmp_path: Path) -> None:
    from cds_app.dicom_wiring import listener_config
    from cds_app.settings import Settings

    settings = Settings.model_validate(
        {
            "data_dir": tmp_path,
            "timezone": "America/Chicago",
            "dicom": {
                "ae_title": "VF1",
                "allowed_calling_aets": ["PACSSIM"],
                "max_spool_bytes": 10**9,
                "issuer_systems": {"STMARY": "https://stmary.example/mrn"},
                "views": ["ap"],
                "required_keywords": ["portable"],
                "max_associations_per_peer": 2,
                "acse_timeout_s": 4,
                "network_timeout_s": 7,
                "max_decoded_bytes": 2**25,
                "decoder_memory_bytes": 2**30,
                "max_attempts": 5,
            },
        }
    )
    config = listener_config(settings, port=0)
    assert config.port == 0
    assert config.ae_title == "VF1"
    assert config.allowed_calling_aets == ("PACSSIM",)
    assert config.spool_dir == tmp_path / "spool"
    assert config.timezone == "America/Chicago"
    assert config.default_patient_system == settings.patient_id_system
    assert config.max_spool_bytes == 10**9
    assert config.issuer_systems == {"STMARY": "https://stmary.example/mrn"}
    assert config.selection.views == frozenset({"AP"})
    assert config.selection.required_keywords == frozenset({"PORTABLE"})
    assert config.max_associations_per_peer == 2
    assert (config.acse_timeout_s, config.network_timeout_s) == (4, 7)
    assert config.size_limits.max_decoded_bytes == 2**25
    assert config.decoder_memory_bytes == 2**30
    assert config.max_attempts == 5


def test_dicom_quarantine_lists_and_releases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cds_app.cli.main import main
    from dicom_listener.spool import FileSpool

    spool = FileSpool(tmp_path / "spool")
    film = make_film(tmp_path / "f.dcm")
    uid = str(dcmread(film).SOPInstanceUID)
    spool.store(uid, film.read_bytes())
    spool.quarantine_instance(uid, "3 failed attempts; last: decoder process killed by SIGSEGV")
    assert main(["dicom-quarantine", "list", "--spool", str(spool.root)]) == 0
    listed = capsys.readouterr()
    assert uid in listed.out
    assert "killed by SIGSEGV" in listed.out
    assert "1 quarantined instance(s)" in listed.err
    assert main(["dicom-quarantine", "release", "1.2.3.4", "--spool", str(spool.root)]) == 1
    assert "not in quarantine: 1.2.3.4" in capsys.readouterr().err
    assert main(["dicom-quarantine", "release", "--all", "--spool", str(spool.root)]) == 0
    assert f"released {uid}" in capsys.readouterr().out
    assert spool.pending_uids() == [uid]
    assert main(["dicom-quarantine", "list", "--spool", str(spool.root)]) == 0
    assert "0 quarantined instance(s)" in capsys.readouterr().err
