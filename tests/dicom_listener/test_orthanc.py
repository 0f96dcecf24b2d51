"""Orthanc as the PACS: films stored into it are auto-routed to the listener by a Lua script."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread

from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.server import RunningListener
from tests.dicom_listener.films import make_film, real_film
from tests.dicom_listener.scu import echo

from .conftest import AE_TITLE, require_binary

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


@pytest.fixture
def orthanc(tmp_path: Path, listener: RunningListener) -> Iterator[int]:
    """Orthanc on unusual loopback ports, routing CR/DX to the listener; yields its DICOM port."""
    binary = require_binary("Orthanc")
    folder = tmp_path / "orthanc"
    folder.mkdir()
    (folder / "route.lua").write_text(ROUTE_LUA)
    dicom_port = _free_port()
    config = {
        "Name": "PACS-SIM",
        "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"),
        "Plugins": [],
        "HttpServerEnabled": True,
        "HttpPort": _free_port(),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": True,
        "DicomAet": "PACSSIM",
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowStore": True,
        "DicomModalities": {
            "cdslistener": {
                "AET": AE_TITLE,
                "Host": "127.0.0.1",
                "Port": listener.port,
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
        while echo(dicom_port, called="PACSSIM") != 0x0000:
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"Orthanc did not start: {(folder / 'orthanc.log').read_text()}")
            time.sleep(0.2)
        yield dicom_port
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


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
    storescu = require_binary("storescu")
    folder = tmp_path / "to_pacs"
    folder.mkdir()
    chest = [make_film(folder / f"{i}.dcm", seed=i, modality=("CR", "DX")[i % 2]) for i in range(3)]
    extremity = real_film("RG3_UNCR.dcm")
    j2k = real_film("RG1_J2KR.dcm")
    result = subprocess.run(
        [storescu, "-aet", "MODALITY", "-aec", "PACSSIM", "-xv", "127.0.0.1", str(orthanc),
         *map(str, chest), str(extremity), str(j2k)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "TCP_NODELAY": "1"},
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
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
