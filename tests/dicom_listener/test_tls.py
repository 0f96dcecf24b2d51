"""DICOM over TLS: DCMTK storescu and mutual TLS with client certificates."""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pynetdicom import AE

from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.server import RunningListener, start_listener
from tests.dicom_listener.films import make_film
from tests.dicom_listener.scu import VERIFICATION
from tests.dicom_listener.tls_certs import Pki, make_pki

from .conftest import AE_TITLE, StatsModel, listener_config, require_binary


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    folder = tmp_path / "pki"
    folder.mkdir()
    return make_pki(folder)


@pytest.fixture
def mutual_tls_listener(
    tmp_path: Path, pki: Pki, sink: DirectoryFilmSink
) -> Iterator[RunningListener]:
    config = listener_config(
        tmp_path / "spool", tls_cert=pki.server_cert, tls_key=pki.server_key, tls_ca=pki.ca
    )
    running = start_listener(config, ModelFilmProcessor(StatsModel()), sink)
    try:
        yield running
    finally:
        running.stop()


def _echo_tls(port: int, client: ssl.SSLContext) -> bool:
    ae = AE(ae_title="TLSSCU")
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", port, ae_title=AE_TITLE, tls_args=(client, "localhost"))
    if not assoc.is_established:
        return False
    try:
        return int(assoc.send_c_echo().Status) == 0
    finally:
        assoc.release()


def test_mutual_tls_requires_a_client_certificate_from_the_ca(
    mutual_tls_listener: RunningListener, pki: Pki
) -> None:
    anonymous = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
    assert not _echo_tls(mutual_tls_listener.port, anonymous)
    with_cert = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
    with_cert.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    assert _echo_tls(mutual_tls_listener.port, with_cert)


@pytest.mark.dcmtk
def test_storescu_over_mutual_tls(
    mutual_tls_listener: RunningListener, pki: Pki, sink: DirectoryFilmSink, tmp_path: Path
) -> None:
    storescu = require_binary("storescu")
    film = make_film(tmp_path / "f.dcm")
    result = subprocess.run(
        [storescu, "-v", "+tls", str(pki.client_key), str(pki.client_cert), "+cf", str(pki.ca),
         "-aet", "PACSSIM", "-aec", AE_TITLE, "127.0.0.1", str(mutual_tls_listener.port),
         str(film)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "TCP_NODELAY": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Received Store Response (Success)" in result.stdout + result.stderr
    assert mutual_tls_listener.wait_idle(30)
    assert sink.added_uids() == [str(dcmread(film).SOPInstanceUID)]
