"""dicom_wiring: the listener's counters and spool state as Prometheus metrics."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from pydicom import dcmread

from cds_app.dicom_wiring import ListenerCollector
from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.server import start_listener
from tests.dicom_listener.conftest import StatsModel, listener_config
from tests.dicom_listener.films import make_film
from tests.dicom_listener.hostile import rle_bomb
from tests.dicom_listener.scu import store_files


def test_listener_metrics_count_answers_outcomes_and_quarantine(tmp_path: Path) -> None:
    listener = start_listener(
        listener_config(tmp_path / "spool"),
        ModelFilmProcessor(StatsModel()),
        DirectoryFilmSink(tmp_path / "out"),
    )
    registry = CollectorRegistry()
    registry.register(ListenerCollector(listener))
    try:
        assert "ventfusion_dicom_quarantined_total 0.0" in generate_latest(registry).decode()
        film = make_film(tmp_path / "f.dcm")
        knee = make_film(tmp_path / "k.dcm", body_part="KNEE", seed=1)
        assert store_files(listener.port, [film, knee]) == [0x0000, 0x0000]
        assert store_files(listener.port, [rle_bomb(tmp_path / "r.dcm")]) == [0xA701]
        assert listener.wait_idle(60)
        poisoned = make_film(tmp_path / "p.dcm", seed=2)
        uid = str(dcmread(poisoned).SOPInstanceUID)
        listener.spool.store(uid, poisoned.read_bytes())
        listener.spool.quarantine_instance(uid, "test")
        text = generate_latest(registry).decode()
    finally:
        listener.stop()
    assert 'ventfusion_dicom_cstore_total{status="0x0000"} 2.0' in text
    assert 'ventfusion_dicom_cstore_total{status="0xA701"} 1.0' in text
    assert 'ventfusion_dicom_processed_total{outcome="film"} 1.0' in text
    assert 'ventfusion_dicom_processed_total{outcome="not_scored"} 1.0' in text
    assert 'ventfusion_dicom_association_total{outcome="released"} 2.0' in text
    assert "ventfusion_dicom_quarantine_instances 1.0" in text
    assert "ventfusion_dicom_spool_pending 0.0" in text
