"""PduGuard: refusals from PDU headers alone, deadlines, and ordinary traffic left alone."""

from __future__ import annotations

import struct

import pytest

from dicom_listener.pdu_guard import MAX_ASSOCIATE_RQ_BYTES, GuardLimits, PduGuard

LIMITS = GuardLimits(
    max_pdu=16384, max_message_bytes=100_000, pdu_timeout_s=5.0, message_timeout_s=60.0
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pdu(pdu_type: int, payload: bytes) -> bytes:
    return struct.pack(">BBL", pdu_type, 0, len(payload)) + payload


def pdv(data: bytes, *, command: bool, last: bool) -> bytes:
    control = (1 if command else 0) | (2 if last else 0)
    return struct.pack(">LBB", len(data) + 2, 1, control) + data


def accepted_guard(clock: Clock | None = None) -> PduGuard:
    guard = PduGuard(LIMITS, clock or Clock())
    assert guard.inbound(pdu(0x01, b"\x00" * 200)) is None  # A-ASSOCIATE-RQ
    guard.outbound(pdu(0x02, b"\x00" * 180))  # our A-ASSOCIATE-AC
    assert guard.accepted
    return guard


def test_a_4_gib_claim_before_association_is_refused_from_the_header() -> None:
    guard = PduGuard(LIMITS, Clock())
    refusal = guard.inbound(struct.pack(">BBL", 0x01, 0, 0xFFFFFFF0))
    assert refusal is not None
    assert refusal.kind == "too_large"
    assert "4294967280" in refusal.text


def test_the_header_may_arrive_byte_by_byte() -> None:
    guard = PduGuard(LIMITS, Clock())
    header = struct.pack(">BBL", 0x01, 0, MAX_ASSOCIATE_RQ_BYTES + 1)
    assert all(guard.inbound(header[i : i + 1]) is None for i in range(5))
    assert guard.inbound(header[5:]) is not None


def test_data_before_the_association_is_accepted_is_refused() -> None:
    guard = PduGuard(LIMITS, Clock())
    refusal = guard.inbound(pdu(0x04, pdv(b"x" * 10, command=True, last=True)))
    assert refusal is not None
    assert refusal.kind == "protocol"


def test_non_dicom_bytes_are_refused() -> None:
    refusal = PduGuard(LIMITS, Clock()).inbound(b"GET / HTTP/1.1\r\n")
    assert refusal is not None
    assert refusal.kind == "protocol"


def test_p_data_above_our_maximum_pdu_is_refused_after_acceptance() -> None:
    guard = accepted_guard()
    refusal = guard.inbound(struct.pack(">BBL", 0x04, 0, LIMITS.max_pdu + 1))
    assert refusal is not None
    assert refusal.kind == "too_large"


def test_a_c_store_within_the_limits_passes_in_any_chunking() -> None:
    guard = accepted_guard()
    stream = pdu(0x04, pdv(b"c" * 100, command=True, last=True))
    for _ in range(10):  # a 90 KB data set in fragments of one PDU each
        stream += pdu(0x04, pdv(b"d" * 9000, command=False, last=False))
    stream += pdu(0x04, pdv(b"d" * 10, command=False, last=True))
    stream += pdu(0x05, b"\x00" * 4)  # A-RELEASE-RQ
    for start in range(0, len(stream), 997):
        assert guard.inbound(stream[start : start + 997]) is None


def test_a_data_set_beyond_the_size_limit_is_refused_before_it_is_read() -> None:
    guard = accepted_guard()
    assert guard.inbound(pdu(0x04, pdv(b"c" * 100, command=True, last=True))) is None
    refusal = None
    for _ in range(20):
        refusal = guard.inbound(pdu(0x04, pdv(b"d" * 9000, command=False, last=False)))
        if refusal:
            break
    assert refusal is not None
    assert refusal.kind == "too_large"
    assert "DICOM__MAX_DATASET_BYTES" in refusal.text


def test_the_size_limit_applies_to_each_data_set_not_to_the_association() -> None:
    guard = accepted_guard()
    for _ in range(5):  # five 60 KB instances, 300 KB in all, limit 100 KB each
        assert guard.inbound(pdu(0x04, pdv(b"c" * 100, command=True, last=True))) is None
        for _ in range(6):
            assert guard.inbound(pdu(0x04, pdv(b"d" * 9000, command=False, last=False))) is None
        assert guard.inbound(pdu(0x04, pdv(b"d" * 10, command=False, last=True))) is None


def test_a_pdu_must_complete_within_the_pdu_timeout() -> None:
    clock = Clock()
    guard = PduGuard(LIMITS, clock)
    assert guard.read_timeout() == pytest.approx(5.0)
    assert guard.inbound(struct.pack(">BBL", 0x01, 0, 74) + b"\x00\x01") is None
    clock.now += 4.0
    assert guard.read_timeout() == pytest.approx(1.0)  # the deadline started with the header
    clock.now += 1.5
    assert guard.read_timeout() == pytest.approx(0.001)
    assert guard.stalled().kind == "stalled"
    assert "5 s" in guard.stalled().text


def test_a_data_set_must_complete_within_the_message_timeout() -> None:
    clock = Clock()
    guard = accepted_guard(clock)
    assert guard.inbound(pdu(0x04, pdv(b"c" * 100, command=True, last=True))) is None
    for _ in range(14):  # one PDU every 4.9 s: each PDU on time, the data set too slow
        clock.now += 4.9
        assert guard.inbound(pdu(0x04, pdv(b"d" * 10, command=False, last=False))) is None
    clock.now += 0.5
    assert guard.read_timeout() <= 0.001 + 1e-9
    assert "60 s" in guard.stalled().text
