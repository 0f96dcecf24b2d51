"""Orthanc as the PACS: films stored into it are auto-routed to the listener by a Lua script."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread

from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.server import RunningListener, start_listener
from tests.dicom_listener.films import make_film, real_film
from tests.dicom_listener.scu import echo

from .conftest import AE_TITLE, StatsModel, listener_config, require_binary

pytestmark = pytest.mark.orthanc

ROUTE_LUA = """
function OnStoredInstance(instanceId, tags, metadata, origin)
  if origin['RequestOrigin'] ~= 'Lua' then
    local m = tags['Modality']
    if m == 'CR' or m == 'DX' then SendToModality(instanceId, 'cdslistener') end
  end
end
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Orthanc:
    dicom_port: int
    http_port: int

    def rest(self, method: str, path: str, body: object | None = None) -> Any:
        """Call Orthanc's REST API on loopback; the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")


@contextmanager
def running_orthanc(folder: Path, listener_port: int) -> Iterator[Orthanc]:
    """Orthanc on unusual loopback ports, routing CR/DX to ``listener_port`` with a Lua script."""
    binary = require_binary("Orthanc")
    folder.mkdir()
    (folder / "route.lua").write_text(ROUTE_LUA)
    orthanc = Orthanc(dicom_port=_free_port(), http_port=_free_port())
    config = {
        "Name": "PACS-SIM",
        "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"),
        "Plugins": [],
        "HttpServerEnabled": True,
        "HttpPort": orthanc.http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": True,
        "DicomAet": "PACSSIM",
        "DicomPort": orthanc.dicom_port,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowStore": True,
        "DicomModalities": {
            "cdslistener": {
                "AET": AE_TITLE,
                "Host": "127.0.0.1",
                "Port": listener_port,
                "AllowTranscoding": False,
            }
        },
        "LuaScripts": [str(folder / "route.lua")],
        "StableAge": 5,
        "SaveJobs": False,
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = open(folder / "orthanc.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([binary, str(folder / "orthanc.json")], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while echo(orthanc.dicom_port, called="PACSSIM") != 0x0000:
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"Orthanc did not start: {(folder / 'orthanc.log').read_text()}")
            time.sleep(0.2)
        yield orthanc
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


@pytest.fixture
def orthanc(tmp_path: Path, listener: RunningListener) -> Iterator[int]:
    """A running Orthanc routing to the ``listener`` fixture; yields its DICOM port."""
    with running_orthanc(tmp_path / "orthanc", listener.port) as running:
        yield running.dicom_port


def _storescu(port: int, *films: Path, flags: tuple[str, ...] = ()) -> None:
    storescu = require_binary("storescu")
    result = subprocess.run(
        [storescu, "-aet", "MODALITY", "-aec", "PACSSIM", *flags, "127.0.0.1", str(port),
         *map(str, films)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "TCP_NODELAY": "1"},
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def _wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_orthanc_routes_chest_films_to_the_listener(
    orthanc: int,
    listener: RunningListener,
    sink: DirectoryFilmSink,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="dicom_listener.handlers")
    folder = tmp_path / "to_pacs"
    folder.mkdir()
    chest = [make_film(folder / f"{i}.dcm", seed=i, modality=("CR", "DX")[i % 2]) for i in range(3)]
    extremity = real_film("RG3_UNCR.dcm")
    j2k = real_film("RG1_J2KR.dcm")
    _storescu(orthanc, *chest, extremity, j2k, flags=("-xv",))
    chest_uids = {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in [*chest, j2k]}
    extremity_uid = str(dcmread(extremity, stop_before_pixels=True).SOPInstanceUID)
    assert _wait_for(
        lambda: set(sink.added_uids()) == chest_uids and extremity_uid in sink.rejected_reasons(),
        timeout=90,
    ), (sink.added_uids(), sink.rejected_reasons())
    # Orthanc forwarded the JPEG 2000 film in its original transfer syntax
    j2k_uid = str(dcmread(j2k, stop_before_pixels=True).SOPInstanceUID)
    assert sink.rejected_reasons() == {extremity_uid: "body part EXTREMITY is not a chest"}
    assert j2k_uid in sink.added_uids()
    stored = [r.getMessage() for r in caplog.records if j2k_uid in r.getMessage()]
    assert any("1.2.840.10008.1.2.4.90" in line for line in stored), stored


def _job_state(orthanc: Orthanc, job: str, wanted: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = str(orthanc.rest("GET", f"/jobs/{job}")["State"])
        if state in wanted:
            return state
        time.sleep(0.2)
    return state


def test_listener_outage_then_orthanc_job_resubmitted(
    tmp_path: Path, sink: DirectoryFilmSink
) -> None:
    """With the listener down the PACS's forward fails; resubmitted once it is back, it lands."""
    listener_port = _free_port()
    with running_orthanc(tmp_path / "orthanc", listener_port) as orthanc:
        film = make_film(tmp_path / "f.dcm")
        _storescu(orthanc.dicom_port, film)  # the Lua forward fails: nobody listens yet
        instances = orthanc.rest("GET", "/instances")
        assert len(instances) == 1
        job = orthanc.rest(
            "POST",
            "/modalities/cdslistener/store",
            {"Resources": instances, "Asynchronous": True},
        )["ID"]
        assert _job_state(orthanc, job, {"Failure", "Success"}) == "Failure"
        config = listener_config(tmp_path / "spool", port=listener_port)
        listener = start_listener(config, ModelFilmProcessor(StatsModel()), sink)
        try:
            orthanc.rest("POST", f"/jobs/{job}/resubmit", {})
            assert _job_state(orthanc, job, {"Success"}) == "Success"
            assert listener.wait_idle(30)
        finally:
            listener.stop()
    assert sink.added_uids() == [str(dcmread(film).SOPInstanceUID)]
