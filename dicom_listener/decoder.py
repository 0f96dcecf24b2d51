"""Pixel decoding and preprocessing in child processes, so a decoder cannot take the listener down.

A :class:`DecoderProcess` owns one child (see :mod:`dicom_listener.decoder_child`): address space
capped with ``RLIMIT_AS``, a per-film timeout after which it is killed, a fresh process after
``max_jobs`` films, after a crash, a timeout or an out-of-memory. The listener process only sees
the outcome — a small prepared film or the reason it is not scored — or a :class:`DecoderError`,
which the spool worker counts towards quarantine.

Children are forked from multiprocessing's forkserver with the decoding stack preloaded: the
listener's threads (associations, acceptor) are never forked, and a replacement costs 30-60 ms
(up to ~1 s when the entry point is a script, which multiprocessing re-imports in the child)
instead of the ~5 s of importing torch and MONAI. The forkserver is per process and shared with
any other user of that start method.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal

from dicom_listener import DicomListenerError
from dicom_listener.config import ListenerConfig
from dicom_listener.facts import PreparedFilm, Rejection

log = logging.getLogger(__name__)

#: "unavailable": no decoder process could be started — not the film's fault, never counted
FailureKind = Literal["crash", "timeout", "memory", "error", "unavailable"]
_START_TIMEOUT_S = 120.0  # a cold forkserver imports torch and MONAI first
_PRELOAD = ["dicom_listener.decoder_child"]


@dataclass(frozen=True)
class DecoderLimits:
    """How a decoder process is confined (ListenerConfig's ``decoder_*`` fields)."""

    memory_bytes: int  # address space it may add to its size at start (RLIMIT_AS)
    timeout_s: float  # per film; beyond it the process is killed
    max_jobs: int  # films per process before a fresh one replaces it
    nice: int  # CPU priority below the listener's receipt


@dataclass(frozen=True)
class DecoderJob:
    """What the decoder process needs besides the file: the listener's rules and the film size."""

    config: ListenerConfig
    film_size: int


def _serve(conn: Connection, job: DecoderJob, limits: DecoderLimits) -> None:
    """The child's entry point (imported there, where the forkserver has preloaded it)."""
    from dicom_listener.decoder_child import serve

    serve(conn, job, limits)


class DecoderError(DicomListenerError):
    """The decoder process did not return an outcome for a film (counts towards quarantine)."""

    def __init__(self, kind: FailureKind, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.detail = detail  # a traceback from the child, for the log


def _context() -> BaseContext:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(_PRELOAD)  # ignored once the forkserver runs
    return context


def _exit_reason(process: BaseProcess) -> str:
    process.join(2.0)
    code = process.exitcode
    if code is None:
        return "decoder process stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"decoder process killed by {name}"
    return f"decoder process exited with status {code}"


class DecoderProcess:
    """One decoder child, used by one thread at a time."""

    def __init__(self, job: DecoderJob, limits: DecoderLimits) -> None:
        self._job = job
        self._limits = limits
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._jobs = 0

    def _start(self) -> Connection:
        context = _context()
        parent, child = context.Pipe()
        process = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child, self._job, self._limits), name="dicom-decoder", daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn, self._jobs = process, parent, 0
        message = self._receive(parent, process, _START_TIMEOUT_S, "decoder process did not start")
        if message[0] != "ready":
            self._kill()
            raise DecoderError("error", str(message[2]))
        log.debug("decoder process %s ready (address space cap %s)", process.pid, message[1])
        return parent

    @property
    def pid(self) -> int | None:
        """The child's process id (None while no child runs)."""
        return None if self._process is None else self._process.pid

    def warm_up(self) -> None:
        """Start the child now (the first film then does not wait for the forkserver)."""
        if self._conn is None:
            self._start()

    def run(self, path: Path) -> PreparedFilm | Rejection:
        """Decode, check and preprocess one spooled film in the child."""
        conn = self._conn
        if conn is None:
            try:
                conn = self._start()
            except DecoderError as exc:
                raise DecoderError("unavailable", f"no decoder process: {exc.reason}") from exc
        process = self._process
        assert process is not None
        try:
            conn.send(str(path))
        except OSError as exc:
            self._kill()
            raise DecoderError("crash", _exit_reason(process)) from exc
        timeout = self._limits.timeout_s
        message = self._receive(
            conn, process, timeout, f"decoding took longer than {timeout:g} s (killed)"
        )
        self._jobs += 1
        if message[0] != "ok":
            self._kill()
            raise DecoderError(message[1], message[2], message[3])
        if self._jobs >= self._limits.max_jobs:
            self.close()  # the child exits on its own after max_jobs; a fresh one next time
        outcome: PreparedFilm | Rejection = message[1]
        return outcome

    def _receive(
        self, conn: Connection, process: BaseProcess, timeout: float, late: str
    ) -> tuple[Any, ...]:
        """The child's next message; a timeout or a dead child kills it and raises."""
        if not conn.poll(timeout):
            self._kill()
            raise DecoderError("timeout", late)
        try:
            message: tuple[Any, ...] = conn.recv()
        except (EOFError, OSError) as exc:
            reason = _exit_reason(process)
            self._kill()
            raise DecoderError("crash", reason) from exc
        return message

    def _kill(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None and process.is_alive():
            process.kill()
            process.join(5.0)

    def close(self, timeout: float = 5.0) -> None:
        """Ask the child to exit; kill it if it does not within ``timeout``."""
        process, conn = self._process, self._conn
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(None)
        if process is not None:
            process.join(timeout)
        self._kill()
