"""Hostile inputs of the listener tests: decompression bombs, lying headers, raw TCP abuse.

Each one reproduces what a crafted object or a broken modality sent in the field (issue #15):
an RLE film whose header claims 65535 x 65535 pixels, a deflated data set that inflates to
gigabytes, a PDU header claiming 4 GiB, connections that send a few bytes and stall.
"""

from __future__ import annotations

import socket
import struct
import zlib
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ComputedRadiographyImageStorage,
    DeflatedExplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

from tests.dicom_listener.films import make_film


def rle_bomb(path: Path, *, side: int = 65535) -> Path:
    """A real 64 x 64 RLE film whose Rows and Columns claim ``side`` (the 9.5 KB object)."""
    source = make_film(path.with_suffix(".native.dcm"), size=64, bits=12)
    ds = dcmread(source)
    ds.compress(RLELossless)
    ds.Rows = ds.Columns = side
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(path, enforce_file_format=True)
    return path


def deflate_bomb(path: Path, *, side: int = 20480) -> Path:
    """A deflated CR data set of ``side`` x ``side`` 16-bit zeros (800 MiB inflated, 0.8 MB).

    After a full flush the deflater starts afresh, so one compressed MiB of zeros repeated is a
    valid stream: the bomb costs milliseconds and no memory to build.
    """
    ds = dcmread(make_film(path.with_suffix(".native.dcm"), size=64))
    del ds.PixelData
    ds.Rows = ds.Columns = side
    ds.SOPInstanceUID = generate_uid()
    header = DicomBytesIO()
    header.is_little_endian, header.is_implicit_VR = True, False  # deflate wraps explicit LE
    write_dataset(header, ds)
    pixels = side * side * 2
    mebibyte = 1 << 20
    element = struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OW", 0, pixels)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    start = deflater.compress(header.getvalue() + element) + deflater.flush(zlib.Z_FULL_FLUSH)
    block = deflater.compress(bytes(mebibyte)) + deflater.flush(zlib.Z_FULL_FLUSH)
    tail = deflater.compress(bytes(pixels % mebibyte)) + deflater.flush()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ComputedRadiographyImageStorage
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    with open(path, "wb") as handle:
        handle.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(handle, meta)
        handle.write(start + block * (pixels // mebibyte) + tail)
    return path


def pdu_header(pdu_type: int, length: int) -> bytes:
    """The 6-byte header of a DICOM Upper Layer PDU."""
    return struct.pack(">BBL", pdu_type, 0, length)


def send_huge_pdu(port: int, *, claimed: int = 0xFFFFFFF0, send_bytes: int = 64 << 20) -> int:
    """Claim a PDU of ``claimed`` bytes and stream garbage; how many bytes the peer took."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(pdu_header(0x01, claimed))
            chunk = b"\xab" * (1 << 20)
            while sent < send_bytes:
                sent += sock.send(chunk)
        except OSError:  # the listener closed the connection: what it should do
            pass
    return sent


def stalled_connection(port: int, *, source: str = "127.0.0.1") -> socket.socket:
    """A connection that sends 8 bytes of an A-ASSOCIATE-RQ, then nothing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    sock.sendall(pdu_header(0x01, 0x44) + b"\x00\x01")
    return sock


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """True when the listener closes ``sock`` within ``timeout`` seconds."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except TimeoutError:
        return False
    except OSError:  # reset by the peer
        return True
