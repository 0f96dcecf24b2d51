"""Checks the byte stream a peer sends before pynetdicom reads each PDU's payload.

pynetdicom reads a PDU as ``recv(6)`` (type + length) then ``recv(length)`` into memory, with
no upper bound and on a socket without a timeout: a header claiming 4 GiB grows memory with every
byte sent, and a peer that stalls after the header blocks the association thread forever. The
guard sees every received byte (the socket classes in :mod:`dicom_listener.network` call it) and
refuses, from the header alone:

- before our A-ASSOCIATE-AC: anything but an A-ASSOCIATE-RQ (or A-ABORT), and a request above
  :data:`MAX_ASSOCIATE_RQ_BYTES` — so the AE-title decision comes before any payload is read;
- after it: a P-DATA-TF longer than our advertised maximum PDU, any other PDU above
  :data:`MAX_CONTROL_PDU_BYTES`, and a command or data set (the fragments up to its last one)
  that grows beyond ``max_message_bytes`` or is not complete within ``message_timeout_s``;
- a PDU not complete within ``pdu_timeout_s`` of its first byte (stalled or slow-loris peer).

Pure logic, no sockets: it is fed bytes and answers with a refusal reason or None.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

#: an A-ASSOCIATE-RQ: 128 presentation contexts x ~20 transfer syntaxes + user identity fit
MAX_ASSOCIATE_RQ_BYTES = 256 * 1024
#: A-RELEASE-RQ/RP and A-ABORT are 4 bytes long; anything else but P-DATA is refused above this
MAX_CONTROL_PDU_BYTES = 64 * 1024
_HEADER = 6  # PDU type, reserved, 4-byte length
_PDV_HEADER = 6  # item length (4), presentation context ID, message control header

ASSOCIATE_RQ, ASSOCIATE_AC, P_DATA, ABORT = 0x01, 0x02, 0x04, 0x07
_KNOWN_TYPES = frozenset({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07})


@dataclass(frozen=True)
class Refusal:
    """Why a connection is closed: a counter label and a sentence for the log."""

    kind: str  # "too_large" | "stalled" | "protocol"
    text: str


@dataclass(frozen=True)
class GuardLimits:
    """What a peer may send (``max_pdu`` is the maximum PDU length we advertise)."""

    max_pdu: int
    max_message_bytes: int
    pdu_timeout_s: float
    message_timeout_s: float


class PduGuard:
    """Follows the PDU framing of one connection, in both directions (one instance per socket)."""

    def __init__(self, limits: GuardLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self.accepted = False  # our A-ASSOCIATE-AC has been sent: P-DATA may follow
        # inbound PDU framing
        self._header = bytearray()
        self._pdu_type = 0
        self._pdu_left = 0  # payload bytes still expected in the current PDU
        self._pdu_deadline: float | None = None
        # PDV items inside a P-DATA-TF payload
        self._pdv_header = bytearray()
        self._pdv_left = 0
        self._message_bytes = 0
        self._message_deadline: float | None = None
        # outbound PDU framing (to see our own A-ASSOCIATE-AC)
        self._out_header = bytearray()
        self._out_left = 0

    # ----------------------------------------------------------------------------- outbound
    def outbound(self, data: bytes | bytearray | memoryview) -> None:
        """Follow what we send; an A-ASSOCIATE-AC marks the association accepted."""
        view = memoryview(data)
        while view:
            if self._out_left:
                step = min(self._out_left, len(view))
                self._out_left -= step
                view = view[step:]
                continue
            need = _HEADER - len(self._out_header)
            self._out_header += view[:need]
            view = view[need:]
            if len(self._out_header) < _HEADER:
                return
            pdu_type, _, length = struct.unpack(">BBL", self._out_header)
            self._out_header.clear()
            self._out_left = length
            if pdu_type == ASSOCIATE_AC:
                self.accepted = True

    # ------------------------------------------------------------------------------ inbound
    def read_timeout(self) -> float:
        """How long the next ``recv`` may block: what is left of the PDU and message deadlines."""
        now = self._clock()
        left = self._limits.pdu_timeout_s
        for deadline in (self._pdu_deadline, self._message_deadline):
            if deadline is not None:
                left = min(left, deadline - now)
        return max(left, 0.001)

    def send_timeout(self) -> float:
        """How long one ``send`` may block (a peer that stops reading)."""
        return self._limits.pdu_timeout_s

    def payload_left(self) -> int:
        """Bytes of the current PDU's payload still to come (0 between PDUs)."""
        return self._pdu_left

    def stalled(self) -> Refusal:
        """Why a ``recv`` timed out (called by the socket on ``TimeoutError``)."""
        now = self._clock()
        if self._message_deadline is not None and now >= self._message_deadline:
            return Refusal(
                "stalled",
                f"command or data set not complete within {self._limits.message_timeout_s:g} s",
            )
        return Refusal(
            "stalled", f"PDU not complete within {self._limits.pdu_timeout_s:g} s (stalled peer)"
        )

    def inbound(self, data: bytes | bytearray | memoryview) -> Refusal | None:
        """Account for received bytes; why the connection must be closed, or None."""
        view = memoryview(data)
        while view:
            if self._pdu_left:
                step = min(self._pdu_left, len(view))
                if self._pdu_type == P_DATA:
                    reason = self._pdvs(view[:step])
                    if reason:
                        return reason
                self._pdu_left -= step
                view = view[step:]
                if not self._pdu_left:
                    self._pdu_deadline = None
                continue
            if not self._header:
                self._pdu_deadline = self._clock() + self._limits.pdu_timeout_s
            need = _HEADER - len(self._header)
            self._header += view[:need]
            view = view[need:]
            if len(self._header) < _HEADER:
                return None
            pdu_type, _, length = struct.unpack(">BBL", self._header)
            self._header.clear()
            reason = self._check_header(pdu_type, length)
            if reason:
                return reason
            self._pdu_type, self._pdu_left = pdu_type, length
            if not length:
                self._pdu_deadline = None
        return None

    def _check_header(self, pdu_type: int, length: int) -> Refusal | None:
        if pdu_type not in _KNOWN_TYPES:
            return Refusal("protocol", f"unknown PDU type 0x{pdu_type:02X} (not DICOM?)")
        if not self.accepted:
            if pdu_type == ASSOCIATE_RQ:
                limit = MAX_ASSOCIATE_RQ_BYTES
            elif pdu_type == ABORT:
                limit = MAX_CONTROL_PDU_BYTES
            else:
                return Refusal(
                    "protocol", f"PDU type 0x{pdu_type:02X} before the association was accepted"
                )
            if length > limit:
                return Refusal(
                    "too_large", f"PDU of {length} bytes claimed before association (limit {limit})"
                )
            return None
        limit = self._limits.max_pdu if pdu_type == P_DATA else MAX_CONTROL_PDU_BYTES
        if length > limit:
            return Refusal(
                "too_large", f"PDU of {length} bytes claimed (type 0x{pdu_type:02X}, limit {limit})"
            )
        return None

    def _pdvs(self, payload: memoryview) -> Refusal | None:
        """Follow the PDV items of a P-DATA-TF payload; bound each DIMSE message."""
        while payload:
            if self._pdv_left:
                step = min(self._pdv_left, len(payload))
                self._pdv_left -= step
                payload = payload[step:]
                continue
            need = _PDV_HEADER - len(self._pdv_header)
            self._pdv_header += payload[:need]
            payload = payload[need:]
            if len(self._pdv_header) < _PDV_HEADER:
                return None
            item_length, _context, control = struct.unpack(">LBB", self._pdv_header)
            self._pdv_header.clear()
            if item_length < 2:
                return Refusal("protocol", f"PDV item of length {item_length}")
            self._pdv_left = item_length - 2
            if self._message_deadline is None:
                self._message_deadline = self._clock() + self._limits.message_timeout_s
            self._message_bytes += self._pdv_left
            if self._message_bytes > self._limits.max_message_bytes:
                return Refusal(
                    "too_large",
                    f"data set larger than {self._limits.max_message_bytes} bytes "
                    "(DICOM__MAX_DATASET_BYTES)",
                )
            if control & 0x02:  # last fragment of a command set or of a data set
                self._message_bytes = 0
                self._message_deadline = None
        return None
