"""Bounded reading of an encoded instance (Part 10 bytes): header first, pixels only on request.

pydicom inflates a deflated data set whole (``zlib.decompress``), so a 5 MB deflate bomb becomes
gigabytes before a single attribute can be checked. Here the inflated size is capped, and the
header (everything before Pixel Data) is parsed without copying the pixel bytes, together with
where Pixel Data lies and how long its element says it is.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_dataset
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from dicom_listener import ReceiptError
from dicom_listener.statuses import CANNOT_DECODE, TOO_LARGE

_PREAMBLE = 128
_META_START = _PREAMBLE + 4  # after "DICM"
_PIXEL_TAGS = (0x7FE00010, 0x7FE00009, 0x7FE00008)  # Pixel Data, Double/Float Pixel Data
UNDEFINED_LENGTH = 0xFFFFFFFF
_READ_ERRORS = (InvalidDicomError, EOFError, ValueError, KeyError, OSError, struct.error)
#: a deflated header is inflated and checked on its own first: a bomb is refused before the
#: pixels are inflated (a header longer than this is checked after the bounded inflation)
_HEADER_PROBE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class InstanceHeader:
    """Every attribute before Pixel Data, and what the Pixel Data element declares."""

    dataset: Dataset  # with file_meta; no pixel data
    transfer_syntax: UID
    pixel_length: int | None  # the element's value length; UNDEFINED_LENGTH when encapsulated
    pixel_available: int  # bytes present after the Pixel Data element header
    body: bytes  # holds the (inflated) data set, for reading the pixels later
    implicit_vr: bool
    little_endian: bool
    body_start: int = 0  # where the data set starts in ``body`` (after the file meta)


def meta_end(data: bytes) -> int:
    """Offset of the data set in Part 10 bytes (after the file meta group)."""
    if len(data) < _META_START + 12 or data[_PREAMBLE:_META_START] != b"DICM":
        raise ReceiptError(CANNOT_DECODE, "not a DICOM file (no preamble and DICM prefix)")
    group, element, vr, length = struct.unpack_from("<HH2sH", data, _META_START)
    if (group, element, vr, length) != (2, 0, b"UL", 4):
        raise ReceiptError(CANNOT_DECODE, "file meta information has no group length")
    group_length = int(struct.unpack_from("<L", data, _META_START + 8)[0])
    end = _META_START + 12 + group_length
    if end > len(data):
        raise ReceiptError(CANNOT_DECODE, "file meta information is truncated")
    return end


def _inflate_prefix(deflated: bytes | memoryview, size: int) -> bytes:
    try:
        return zlib.decompressobj(-zlib.MAX_WBITS).decompress(deflated, size)
    except zlib.error as exc:
        raise ReceiptError(CANNOT_DECODE, f"deflated data set is corrupt: {exc}") from exc


def inflate_bounded(deflated: bytes | memoryview, limit: int) -> bytes:
    """Inflate a raw deflate stream (PS3.5 A.5) to at most ``limit`` bytes, else refuse."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(deflated, limit + 1)
        if len(inflated) <= limit and not inflater.unconsumed_tail:
            inflated += inflater.flush()
    except zlib.error as exc:
        raise ReceiptError(CANNOT_DECODE, f"deflated data set is corrupt: {exc}") from exc
    if len(inflated) > limit or inflater.unconsumed_tail:
        raise ReceiptError(
            TOO_LARGE, f"deflated data set inflates beyond {limit} bytes (the configured limit)"
        )
    return inflated


def _file_meta(data: bytes, end: int) -> FileMetaDataset:
    try:
        meta = read_dataset(io.BytesIO(data[_META_START:end]), False, True)
        syntax = str(meta.get("TransferSyntaxUID", "") or "").strip()
    except _READ_ERRORS as exc:
        raise ReceiptError(CANNOT_DECODE, f"cannot parse the file meta information: {exc}") from exc
    if not syntax:
        raise ReceiptError(CANNOT_DECODE, "file meta information has no transfer syntax")
    return FileMetaDataset(meta)


_ITEM, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE0DD


def _fragments_end(body: bytes, start: int) -> int:
    """Bytes from ``start`` that hold complete encapsulated items up to the sequence delimiter.

    Walks item headers only (no copy); returns 0 when the items run past the data (truncated).
    """
    position = start
    while position + 8 <= len(body):
        group, element, length = struct.unpack_from("<HHL", body, position)
        tag = group << 16 | element
        position += 8
        if tag == _SEQUENCE_END:
            return position - start
        if tag != _ITEM or position + length > len(body):
            return 0
        position += length
    return 0


def _pixel_element(body: bytes, offset: int, *, implicit: bool) -> tuple[int | None, int]:
    """(declared value length, bytes available) of the Pixel Data element at ``offset``.

    For encapsulated pixel data the bytes available are those of complete fragments up to the
    sequence delimiter (0 when truncated).
    """
    if offset >= len(body) - 8:
        return None, 0
    (tag,) = struct.unpack_from("<L", body, offset)
    tag = (tag & 0xFFFF) << 16 | tag >> 16  # group, element as little-endian words
    if tag not in _PIXEL_TAGS:
        return None, 0
    if implicit:
        (length,) = struct.unpack_from("<L", body, offset + 4)
        header = 8
    else:
        if offset + 12 > len(body):
            return None, 0
        (length,) = struct.unpack_from("<L", body, offset + 8)  # OB/OW/OF/OD: 2 reserved bytes
        header = 12
    if length == UNDEFINED_LENGTH:
        return length, _fragments_end(body, offset + header)
    return length, len(body) - offset - header


def _parse_header(body: bytes, implicit: bool, little: bool, start: int = 0) -> tuple[Dataset, int]:
    """The attributes from ``start`` to Pixel Data, and the offset where it (or the end) lies."""
    stream = io.BytesIO(body)  # shares the bytes: no copy
    stream.seek(start)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dataset = read_dataset(
                stream, implicit, little, stop_when=lambda tag, vr, length: tag in _PIXEL_TAGS
            )
        except _READ_ERRORS as exc:
            raise ReceiptError(CANNOT_DECODE, f"cannot parse the data set: {exc}") from exc
    if any("End of file" in str(w.message) for w in caught):
        raise ReceiptError(CANNOT_DECODE, "data set truncated (end of data inside an element)")
    return dataset, stream.tell()


def read_header(
    data: bytes, *, max_inflated: int, check: Callable[[Dataset], object] | None = None
) -> InstanceHeader:
    """Parse file meta and every attribute before Pixel Data, bounded in memory.

    ``check`` is called with those attributes before any pixel byte is inflated or copied (it
    raises to refuse). Raises :class:`ReceiptError`: ``CANNOT_DECODE`` when the bytes are not
    a parseable data set, ``TOO_LARGE`` when a deflated data set inflates beyond
    ``max_inflated`` bytes.
    """
    end = meta_end(data)
    meta = _file_meta(data, end)
    syntax = UID(str(meta.TransferSyntaxUID).strip())
    # The data set is read where it lies in ``data``: a 7 MB film is not copied to slice it off.
    body, start = data, end
    implicit = syntax.is_implicit_VR if syntax.is_transfer_syntax else False
    little = syntax.is_little_endian if syntax.is_transfer_syntax else True
    if syntax == DeflatedExplicitVRLittleEndian:
        implicit, little = False, True
        deflated = memoryview(data)[end:]
        prefix = _inflate_prefix(deflated, _HEADER_PROBE_BYTES)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe, at = _parse_header(prefix, implicit, little)
        if check is not None and _pixel_element(prefix, at, implicit=False)[0] is not None:
            check(probe)  # the header is complete in the prefix: refuse a bomb right now
        body, start = inflate_bounded(deflated, max_inflated), 0
    dataset, at = _parse_header(body, implicit, little, start)
    dataset.file_meta = meta
    if check is not None:
        check(dataset)
    length, available = _pixel_element(body, at, implicit=implicit)
    return InstanceHeader(dataset, syntax, length, available, body, implicit, little, start)


def read_full(header: InstanceHeader) -> Dataset:
    """The whole data set (pixels included) of an already checked header."""
    try:
        stream = io.BytesIO(header.body)
        stream.seek(header.body_start)
        dataset = read_dataset(stream, header.implicit_vr, header.little_endian)
    except _READ_ERRORS as exc:
        raise ReceiptError(CANNOT_DECODE, f"cannot parse the data set: {exc}") from exc
    dataset.file_meta = header.dataset.file_meta
    return dataset
