"""Connection hygiene around pynetdicom: guarded sockets, per-peer cap, bounded TLS handshakes.

- Every accepted socket is a :class:`GuardedSocket` (or :class:`GuardedSSLSocket`): its ``recv``
  feeds a :class:`~dicom_listener.pdu_guard.PduGuard` and blocks at most until the guard's
  deadline, so an oversized PDU header or a stalled peer closes the connection instead of
  growing memory or holding a thread forever. pynetdicom sees a closed connection.
- :class:`GuardedAssociationServer` bounds the connections still waiting to associate (the
  oldest go first), caps associations in total and per peer address with a proper
  A-ASSOCIATE-RJ, sets TCP_NODELAY, and runs the TLS handshake in the connection's own thread
  with a deadline (never in the accept loop).

The server subclass relies on pynetdicom 3.0's ThreadedAssociationServer (``get_request``,
``process_request_thread``, ``active_associations``) and on rejecting from an ``EVT_REQUESTED``
handler; pyproject.toml pins pynetdicom to 3.0.x for that reason.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from socketserver import BaseServer
from typing import Any

from pynetdicom import evt
from pynetdicom.events import Event
from pynetdicom.transport import ThreadedAssociationServer

from dicom_listener.activity import ReceiptActivity
from dicom_listener.pdu_guard import GuardLimits, PduGuard, Refusal
from dicom_listener.stats import ListenerStats

log = logging.getLogger(__name__)


class ThrottledLog:
    """Logs the first of a kind per key, then at most one line per interval with a count."""

    def __init__(self, interval_s: float = 60.0) -> None:
        self._interval_s = interval_s
        self._state: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, *args: object) -> None:
        """``log.warning(message, *args)`` unless one for ``key`` was logged recently."""
        now = time.monotonic()
        with self._lock:
            last, suppressed = self._state.get(key, (-self._interval_s, 0))
            if now - last < self._interval_s:
                self._state[key] = (last, suppressed + 1)
                return
            self._state[key] = (now, 0)
            if len(self._state) > 10_000:  # many peers: forget the oldest keys
                for stale in list(self._state)[:5_000]:
                    del self._state[stale]
        if suppressed:
            message += " (%d more like it since the last such line)"
            args = (*args, suppressed)
        log.warning(message, *args)


#: pynetdicom reads a PDU's payload 4 KiB per ``recv``; within a PDU we read up to this much at
#: once and hand it out in the sizes asked (fewer system calls and guard checks per PDU)
READ_AHEAD_BYTES = 256 * 1024


class _Guarded:
    """``recv`` through the PDU guard; ``send`` seen by it (mixed into socket classes)."""

    pdu_guard: PduGuard | None = None
    peer: str = ""
    on_refused: Callable[[str, Refusal], None] | None = None
    on_received: Callable[[], None] | None = None  # ReceiptActivity.received
    _refused = False
    _ahead = b""  # read from the socket, not yet handed to pynetdicom (same PDU only)
    _ahead_at = 0

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        guard = self.pdu_guard
        if guard is None or flags:
            return super().recv(bufsize, flags)  # type: ignore[misc, no-any-return]
        if self._ahead_at < len(self._ahead):
            return self._from_ahead(bufsize)
        if self._refused:
            return b""
        # Read ahead only inside the PDU being read: pynetdicom asks for all of it anyway, so
        # nothing is left here at a PDU boundary, where it polls the socket (select) for data.
        wanted = max(bufsize, min(guard.payload_left(), READ_AHEAD_BYTES))
        self.settimeout(guard.read_timeout())  # type: ignore[attr-defined]
        try:
            data: bytes = super().recv(wanted)  # type: ignore[misc]
        except TimeoutError:
            return self._refuse(guard.stalled())
        reason = guard.inbound(data)
        if reason is not None:
            return self._refuse(reason)
        if data and guard.accepted and self.on_received is not None:
            self.on_received()
        if len(data) <= bufsize:
            return data
        self._ahead, self._ahead_at = data, 0
        return self._from_ahead(bufsize)

    def _from_ahead(self, bufsize: int) -> bytes:
        start = self._ahead_at
        self._ahead_at = min(start + bufsize, len(self._ahead))
        chunk = self._ahead[start : self._ahead_at]
        if self._ahead_at == len(self._ahead):
            self._ahead, self._ahead_at = b"", 0
        return chunk

    def send(self, data: bytes, flags: int = 0) -> int:
        guard = self.pdu_guard
        if guard is not None:  # a read may have left a short deadline on the socket
            self.settimeout(guard.send_timeout())  # type: ignore[attr-defined]
        sent: int = super().send(data, flags)  # type: ignore[misc]
        if guard is not None:
            guard.outbound(memoryview(data)[:sent])
        return sent

    def sendall(self, data: bytes, flags: int = 0) -> None:
        guard = self.pdu_guard
        if guard is not None:
            self.settimeout(guard.send_timeout())  # type: ignore[attr-defined]
        super().sendall(data, flags)  # type: ignore[misc]
        if guard is not None:
            guard.outbound(data)

    def _refuse(self, refusal: Refusal) -> bytes:
        """Close the connection; pynetdicom then reads end-of-stream."""
        self._refused = True
        if self.on_refused is not None:
            self.on_refused(self.peer, refusal)
        with contextlib.suppress(OSError):
            self.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
        return b""


class GuardedSocket(_Guarded, socket.socket):  # type: ignore[misc]  # same calls, keyword names
    """A plain TCP socket whose reads go through a :class:`PduGuard`."""


class GuardedSSLSocket(_Guarded, ssl.SSLSocket):  # type: ignore[misc]
    """A TLS socket whose reads go through a :class:`PduGuard`."""


@dataclass(frozen=True)
class ConnectionPolicy:
    """Per-connection limits applied by :class:`GuardedAssociationServer`."""

    guard: GuardLimits
    handshake_timeout_s: float  # TLS handshake, in the connection's thread
    max_associations: int  # associations (A-ASSOCIATE-RQ received) at once
    max_per_peer: int  # of those, from one address; 0: no cap
    max_waiting: int  # connections that have not sent their A-ASSOCIATE-RQ yet


class GuardedAssociationServer(ThreadedAssociationServer):
    """pynetdicom's threaded server with :class:`ConnectionPolicy` applied to every connection.

    Connections that have not yet sent an A-ASSOCIATE-RQ are "waiting": at most ``max_waiting``
    of them, the oldest closed first when more arrive, so connections that stall before
    associating can never keep a peer that associates at once (an echo, a PACS) out. The
    association limits are applied when the request arrives, answered with a proper
    A-ASSOCIATE-RJ (rejected-transient, local-limit-exceeded) and logged with the reason.
    """

    request_queue_size = 128  # socketserver's 5 drops SYNs (1-3 s retries) under a burst

    def __init__(
        self,
        *args: Any,
        policy: ConnectionPolicy,
        stats: ListenerStats,
        activity: ReceiptActivity | None = None,
        **kwargs: Any,
    ) -> None:
        self.policy = policy
        self.stats = stats
        self.activity = activity
        self.refusals = ThrottledLog()
        self._waiting: OrderedDict[int, socket.socket] = OrderedDict()
        self._lock = threading.Lock()
        super().__init__(*args, **kwargs)
        if self.ssl_context is not None:
            self.ssl_context.sslsocket_class = GuardedSSLSocket
        self.bind(evt.EVT_REQUESTED, self._on_requested)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        """Accept; wrap in a guarded socket (TLS: handshake deferred to the connection thread)."""
        assert self.socket is not None
        client, address = self.socket.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.settimeout(self.policy.guard.pdu_timeout_s)
        if self.ssl_context is not None:
            wrapped: socket.socket = self.ssl_context.wrap_socket(
                client, server_side=True, do_handshake_on_connect=False
            )
        else:
            wrapped = GuardedSocket(client.family, client.type, client.proto, client.detach())
            wrapped.settimeout(self.policy.guard.pdu_timeout_s)
        wrapped.peer = f"{address[0]}:{address[1]}"  # type: ignore[attr-defined]
        wrapped.on_refused = self._closed_by_guard  # type: ignore[attr-defined]
        if self.activity is not None:
            wrapped.on_received = self.activity.received  # type: ignore[attr-defined]
        return wrapped, address

    def _closed_by_guard(self, peer: str, refusal: Refusal) -> None:
        self.stats.count("connection_refused", refusal.kind)
        host = peer.rsplit(":", 1)[0]
        self.refusals.warning(
            f"{refusal.kind}:{host}", "closing connection from %s: %s", peer, refusal.text
        )

    def _wait_for_request(self, request: socket.socket) -> None:
        """Count ``request`` as waiting; close the oldest waiting ones beyond the cap."""
        evicted: list[socket.socket] = []
        with self._lock:
            for key, sock in list(self._waiting.items()):
                if sock.fileno() < 0:  # closed meanwhile (timed out, refused, went away)
                    del self._waiting[key]
            self._waiting[id(request)] = request
            while len(self._waiting) > self.policy.max_waiting:
                evicted.append(self._waiting.popitem(last=False)[1])
        for sock in evicted:
            peer = getattr(sock, "peer", "?")
            self.stats.count("connection_refused", "evicted")
            self.refusals.warning(
                f"evicted:{peer.rsplit(':', 1)[0]}",
                "closing connection from %s: no A-ASSOCIATE-RQ yet and %d newer connections "
                "waiting (idle connection evicted)",
                peer,
                self.policy.max_waiting,
            )
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """TLS handshake (bounded), then pynetdicom's association for this connection."""
        self._wait_for_request(request)
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(self.policy.handshake_timeout_s)
            try:
                request.do_handshake()
            except (OSError, ValueError) as exc:
                self.stats.count("connection_refused", "tls")
                host = str(client_address[0])
                self.refusals.warning(f"tls:{host}", "TLS handshake with %s failed: %s", host, exc)
                self.shutdown_request(request)
                return
            request.settimeout(self.policy.guard.pdu_timeout_s)
        request.pdu_guard = PduGuard(self.policy.guard)
        super().process_request_thread(request, client_address)

    def _on_requested(self, event: Event) -> None:
        """A-ASSOCIATE-RQ received: no longer waiting; apply the association limits."""
        assoc = event.assoc
        sock = getattr(assoc.dul.socket, "socket", None)
        with self._lock:
            self._waiting.pop(id(sock), None)
        host = assoc.requestor.address
        others = [
            a
            for a in self.active_associations
            if a is not assoc
            and a.requestor.primitive is not None
            and not (a.is_rejected or a.is_aborted or a.is_released)
        ]
        reason = ""
        if len(others) >= self.policy.max_associations:
            reason = f"{len(others)} associations open (DICOM__MAX_ASSOCIATIONS)"
        elif self.policy.max_per_peer:
            from_peer = sum(1 for a in others if a.requestor.address == host)
            if from_peer >= self.policy.max_per_peer:
                reason = (
                    f"{from_peer} associations open from {host} (DICOM__MAX_ASSOCIATIONS_PER_PEER)"
                )
        if reason:
            self.stats.count("association", "rejected")
            primitive = assoc.requestor.primitive
            log.warning(
                "association from %s@%s:%s rejected transiently: local limit exceeded, %s",
                primitive.calling_ae_title if primitive is not None else "?",
                host,
                assoc.requestor.port,
                reason,
            )
            assoc.acse.send_reject(0x02, 0x03, 0x02)  # transient, presentation, local limit
            assoc.kill()  # as pynetdicom does after its own rejections: the RJ is sent first

    def shutdown(self) -> None:
        """Stop the accept loop and close the listening socket.

        pynetdicom's own ``shutdown`` also removes the server from the AE's private
        ``_servers`` list, which only ``AE.start_server`` fills; this server is made with
        ``AE.make_server`` and never registered there, so that step is skipped.
        """
        BaseServer.shutdown(self)
        self.server_close()
