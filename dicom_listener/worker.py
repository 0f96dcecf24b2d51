"""Processing threads: drain the spool, hand each film to the sink exactly once.

A film is marked done only after the sink returned; a sink failure leaves it pending and it is
retried with back-off. Pending instances are resumed at start.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dicom_listener.claims import ClaimStore
from dicom_listener.pipeline import Rejection
from dicom_listener.spool import FileSpool
from model.ports import FilmSink, Pseudonymiser, redacted_patient
from model.schemas import ChestFilm

log = logging.getLogger(__name__)

BuildFilm = Callable[[Path], ChestFilm | Rejection]
_MAX_DELAY_S = 300.0


def _lower_thread_priority(nice: int) -> None:
    """Nice this thread (Linux: per thread) so acknowledgements win when the CPU is short."""
    if nice <= 0:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError):  # other platforms, or a sandbox refusing it
        log.debug("could not lower the priority of the processing thread")


class SpoolWorker:
    """Worker threads that process spooled instances off the association threads."""

    def __init__(
        self,
        *,
        spool: FileSpool,
        claims: ClaimStore,
        sink: FilmSink,
        build: BuildFilm,
        threads: int = 1,
        retry_delay_s: float = 5.0,
        nice: int = 0,
        pseudonymise: Pseudonymiser = redacted_patient,
    ) -> None:
        self._spool = spool
        self._pseudonymise = pseudonymise
        self._claims = claims
        self._sink = sink
        self._build = build
        self._threads_wanted = threads
        self._retry_delay_s = retry_delay_s
        self._nice = nice
        self._queue: queue.Queue[str] = queue.Queue()
        self._retries: dict[str, float] = {}  # uid -> when to queue it again (monotonic)
        self._delays: dict[str, float] = {}  # uid -> last back-off
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Queue every pending instance (restart recovery) and start the threads."""
        resumed = self._spool.pending_uids()
        for uid in resumed:
            self._queue.put(uid)
        if resumed:
            log.info("resuming %d pending instances from the spool", len(resumed))
        for index in range(self._threads_wanted):
            thread = threading.Thread(target=self._run, name=f"dicom-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, uid: str) -> None:
        """Queue a newly spooled instance."""
        self._queue.put(uid)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the film in hand and stop; what is left stays pending for the next start."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def is_idle(self) -> bool:
        """Nothing queued, nothing in hand, no retry scheduled."""
        with self._lock:
            retries = bool(self._retries)
        return self._queue.unfinished_tasks == 0 and not retries

    def wait_idle(self, timeout: float) -> bool:
        """Wait until :meth:`is_idle`; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_idle():
                return True
            time.sleep(0.02)
        return self.is_idle()

    def _requeue_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [uid for uid, when in self._retries.items() if when <= now]
            for uid in due:
                del self._retries[uid]
        for uid in due:
            self._queue.put(uid)

    def _run(self) -> None:
        _lower_thread_priority(self._nice)
        while not self._stop.is_set():
            self._requeue_due()
            try:
                uid = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._handle(uid)
            except Exception:  # never let a worker thread die; the film stays pending
                self._schedule_retry(uid)
            finally:
                self._queue.task_done()

    def _handle(self, uid: str) -> None:
        if not self._claims.try_claim(uid):
            return
        finished = False
        try:
            finished = self._process(uid)
        finally:
            if finished:
                with self._lock:
                    self._delays.pop(uid, None)
                self._claims.complete(uid)
            else:
                self._claims.release(uid)

    def _process(self, uid: str) -> bool:
        if self._spool.finish_interrupted(uid) or not self._spool.pending_path(uid).exists():
            return True
        started = time.perf_counter()
        try:
            outcome = self._build(self._spool.pending_path(uid))
        except Exception as exc:
            log.exception("processing SOP Instance %s failed", uid)
            outcome = Rejection(f"processing failed: {type(exc).__name__}", None)
        try:
            if isinstance(outcome, ChestFilm):
                self._sink.add_film(outcome)
                self._spool.mark_done(uid)
                log.info(
                    "film %s of %s processed in %.0f ms",
                    uid,
                    self._pseudonymise(outcome.patient_key),
                    1000 * (time.perf_counter() - started),
                )
            else:
                self._sink.record_rejected_film(uid, outcome.reason, outcome.patient_key)
                self._spool.mark_rejected(uid, outcome.reason)
                who = self._pseudonymise(outcome.patient_key) if outcome.patient_key else "?"
                log.info("instance %s of %s not scored: %s", uid, who, outcome.reason)
        except Exception:
            self._schedule_retry(uid)
            return False
        return True

    def _schedule_retry(self, uid: str) -> None:
        with self._lock:
            previous = self._delays.get(uid, 0.0)
            delay = min(_MAX_DELAY_S, previous * 2 if previous else self._retry_delay_s)
            self._delays[uid] = delay
            self._retries[uid] = time.monotonic() + delay
        log.exception("processing SOP Instance %s failed; retrying in %.0f s", uid, delay)
