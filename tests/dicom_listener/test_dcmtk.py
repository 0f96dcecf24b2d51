"""DCMTK's echoscu/storescu send uncompressed and compressed films; each is stored and processed."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import DeflatedExplicitVRLittleEndian

from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.server import RunningListener
from tests.dicom_listener.films import make_film, real_film

from .conftest import AE_TITLE, require_binary

pytestmark = pytest.mark.dcmtk


@dataclass(frozen=True)
class Variant:
    name: str
    storescu_flag: str | None  # proposal flag matching the file's transfer syntax
    syntax: str  # expected transfer syntax UID of the file


VARIANTS = [
    Variant("explicit", None, "1.2.840.10008.1.2.1"),
    Variant("implicit", "-xi", "1.2.840.10008.1.2"),
    Variant("deflated", "-xd", "1.2.840.10008.1.2.1.99"),
    Variant("rle", "-xr", "1.2.840.10008.1.2.5"),
    Variant("jpeg_baseline", "-xy", "1.2.840.10008.1.2.4.50"),
    Variant("jpeg_lossless_sv1", "-xs", "1.2.840.10008.1.2.4.70"),
    Variant("jpeg_ls", "-xt", "1.2.840.10008.1.2.4.80"),
    Variant("jpeg_ls_near", "-xu", "1.2.840.10008.1.2.4.81"),
    Variant("rg1_j2k_lossless", "-xv", "1.2.840.10008.1.2.4.90"),
    Variant("rg1_j2k_lossy", "-xw", "1.2.840.10008.1.2.4.91"),
    Variant("rg1_uncompressed", None, "1.2.840.10008.1.2.1"),
]


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TCP_NODELAY": "1"}
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def _make_variant(name: str, folder: Path) -> Path:
    out = folder / f"{name}.dcm"
    if name.startswith("rg1_"):
        source = {"j2k_lossless": "RG1_J2KR", "j2k_lossy": "RG1_J2KI"}.get(name[4:], "RG1_UNCR")
        shutil.copy(real_film(f"{source}.dcm"), out)
        return out
    if name == "jpeg_baseline":
        base = make_film(folder / f"{name}_src.dcm", bits=8, window=(128.0, 256.0))
    else:
        base = make_film(folder / f"{name}_src.dcm", bits=12)
    tools: dict[str, list[str]] = {
        "implicit": ["dcmconv", "+ti"],
        "rle": ["dcmcrle"],
        "jpeg_baseline": ["dcmcjpeg", "+eb"],
        "jpeg_lossless_sv1": ["dcmcjpeg", "+e1"],
        "jpeg_ls": ["dcmcjpls"],
        "jpeg_ls_near": ["dcmcjpls", "+en"],
    }
    if name == "explicit":
        return base
    if name == "deflated":
        ds = dcmread(base)
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        ds.save_as(out, enforce_file_format=True)
        return out
    tool = tools[name]
    require_binary(tool[0])
    result = _run(*tool, base, out)
    assert result.returncode == 0, result.stderr
    return out


def test_echoscu(listener: RunningListener) -> None:
    echoscu = require_binary("echoscu")
    result = _run(echoscu, "-aet", "STORESCU", "-aec", AE_TITLE, "127.0.0.1", str(listener.port))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_storescu_variant_is_stored_and_processed(
    variant: Variant, listener: RunningListener, sink: DirectoryFilmSink, tmp_path: Path
) -> None:
    storescu = require_binary("storescu")
    film = _make_variant(variant.name, tmp_path)
    ds = dcmread(film, stop_before_pixels=True)
    assert ds.file_meta.TransferSyntaxUID == variant.syntax
    flags = [variant.storescu_flag] if variant.storescu_flag else []
    result = _run(
        storescu, "-v", "-aet", "STORESCU", "-aec", AE_TITLE, *flags,
        "127.0.0.1", listener.port, film,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Received Store Response (Success)" in result.stdout + result.stderr
    uid = str(ds.SOPInstanceUID)
    assert listener.wait_idle(60)
    assert sink.added_uids() == [uid], sink.rejected_reasons()
    # the spooled file is the instance exactly as sent, in its transfer syntax
    assert (listener.spool.done / uid).exists()


def test_storescu_folder_batch(
    listener: RunningListener, sink: DirectoryFilmSink, tmp_path: Path
) -> None:
    storescu = require_binary("storescu")
    folder = tmp_path / "batch"
    folder.mkdir()
    uids = set()
    for index in range(6):
        view = "LL" if index == 5 else "AP"
        film = make_film(folder / f"{index}.dcm", seed=index, view=view)
        uids.add(str(dcmread(film).SOPInstanceUID))
    result = _run(
        storescu, "-aet", "STORESCU", "-aec", AE_TITLE, "+sd", "+r",
        "127.0.0.1", listener.port, folder,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert listener.wait_idle(60)
    assert len(sink.added_uids()) == 5
    assert set(sink.added_uids()) | set(sink.rejected_reasons()) == uids
