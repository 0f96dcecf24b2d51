"""Listener configuration with real associations: quotas, AE titles, TLS, sink outages."""

from __future__ import annotations

import datetime as dt
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydicom import dcmread
from pynetdicom import AE

from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.server import RunningListener, start_listener
from model.schemas import ChestFilm, PatientKey
from tests.dicom_listener.films import make_film
from tests.dicom_listener.scu import VERIFICATION, echo, store_files

from .conftest import AE_TITLE, StatsModel, listener_config


@pytest.fixture
def started() -> Iterator[list[RunningListener]]:
    running: list[RunningListener] = []
    yield running
    for item in running:
        item.stop()


def test_full_spool_answers_out_of_resources(
    tmp_path: Path, sink: DirectoryFilmSink, started: list[RunningListener]
) -> None:
    first = make_film(tmp_path / "1.dcm")
    second = make_film(tmp_path / "2.dcm", seed=1)
    quota = first.stat().st_size + 1000  # room for one film only
    config = listener_config(tmp_path / "spool", max_spool_bytes=quota)
    started.append(start_listener(config, ModelFilmProcessor(StatsModel()), sink))
    listener = started[0]
    listener.worker.stop()  # nothing is processed: the spool only fills
    assert store_files(listener.port, [first, second]) == [0x0000, 0xA700]
    assert [p.name for p in listener.spool.pending.iterdir()] == [
        f"{dcmread(first).SOPInstanceUID}.dcm"
    ]


def test_calling_ae_title_allowlist(
    tmp_path: Path, sink: DirectoryFilmSink, started: list[RunningListener]
) -> None:
    config = listener_config(tmp_path / "spool", allowed_calling_aets=("PACSSIM",))
    started.append(start_listener(config, ModelFilmProcessor(StatsModel()), sink))
    assert echo(started[0].port, calling="INTRUDER") is None
    assert echo(started[0].port, calling="PACSSIM") == 0x0000


class FlakySink(DirectoryFilmSink):
    """Fails the first add_film call, as a database restarting would."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.failures = 1

    def add_film(self, film: ChestFilm) -> bool:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database is restarting")
        return super().add_film(film)

    def record_rejected_film(self, uid: str, reason: str, key: PatientKey | None) -> None:
        super().record_rejected_film(uid, reason, key)


def test_sink_outage_keeps_the_film_pending_and_retries(
    tmp_path: Path, started: list[RunningListener]
) -> None:
    sink = FlakySink(tmp_path / "out")
    config = listener_config(tmp_path / "spool")
    started.append(start_listener(config, ModelFilmProcessor(StatsModel()), sink))
    film = make_film(tmp_path / "f.dcm")
    assert store_files(started[0].port, [film]) == [0x0000]
    assert started[0].wait_idle(30)
    assert sink.failures == 0
    assert sink.added_uids() == [str(dcmread(film).SOPInstanceUID)]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "server.crt", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_echo_and_store(
    tmp_path: Path, sink: DirectoryFilmSink, started: list[RunningListener]
) -> None:
    cert, key = _self_signed(tmp_path)
    config = listener_config(tmp_path / "spool", tls_cert=cert, tls_key=key)
    started.append(start_listener(config, ModelFilmProcessor(StatsModel()), sink))
    port = started[0].port
    assert echo(port) is None  # plain TCP is refused by a TLS listener
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert))
    ae = AE(ae_title="TLSSCU")
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", port, ae_title=AE_TITLE, tls_args=(client, "localhost"))
    assert assoc.is_established
    try:
        assert assoc.send_c_echo().Status == 0x0000
    finally:
        assoc.release()


def test_maximum_associations(
    tmp_path: Path, sink: DirectoryFilmSink, started: list[RunningListener]
) -> None:
    config = listener_config(tmp_path / "spool", max_associations=1)
    started.append(start_listener(config, ModelFilmProcessor(StatsModel()), sink))
    ae = AE(ae_title="FIRST")
    ae.add_requested_context(VERIFICATION)
    first = ae.associate("127.0.0.1", started[0].port, ae_title=AE_TITLE)
    assert first.is_established
    try:
        assert echo(started[0].port, calling="SECOND") is None  # local limit exceeded
    finally:
        first.release()
    deadline = time.monotonic() + 10  # the acceptor's association thread ends shortly after
    while started[0].ae.active_associations and time.monotonic() < deadline:
        time.sleep(0.05)
    assert echo(started[0].port, calling="SECOND") == 0x0000
