"""Processing threads: drain the spool, hand each film to the sink exactly once.

A film is marked done only after the sink returned; a sink failure leaves it pending and it is
retried with back-off. Each processing attempt is recorded before decoding; an instance whose
decoding failed or crashed ``max_attempts`` times goes to quarantine (once, logged once, never
retried by itself). Pending instances are resumed at start, and the spool is rescanned now and
then for instances released from quarantine.
"""

from __future__ import annotations

import enum
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Protocol

from dicom_listener.activity import ReceiptActivity
from dicom_listener.claims import ClaimStore
from dicom_listener.decoder import DecoderError
from dicom_listener.facts import Rejection
from dicom_listener.quarantine import INTERRUPTED, Attempts
from dicom_listener.spool import FileSpool
from dicom_listener.stats import ListenerStats
from model.ports import FilmSink, Pseudonymiser, redacted_patient
from model.schemas import ChestFilm

log = logging.getLogger(__name__)

_MAX_DELAY_S = 300.0


class Builder(Protocol):
    """Spooled file -> film (``dicom_listener.builder.FilmBuilder``)."""

    def warm_up(self) -> None: ...

    def build(self, path: Path) -> ChestFilm | Rejection: ...

    def close(self) -> None: ...


class _Done(enum.Enum):
    COMPLETE = "complete"  # handed to the sink, rejected, or already finished: claim done
    RETRY = "retry"  # failed transiently: let any worker claim it again later
    LEAVE = "leave"  # quarantined (or gone there): free the claim, never mark done


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
        builder: Builder,
        threads: int = 1,
        retry_delay_s: float = 5.0,
        nice: int = 0,
        pseudonymise: Pseudonymiser = redacted_patient,
        max_attempts: int = 3,
        rescan_interval_s: float = 60.0,
        stats: ListenerStats | None = None,
        activity: ReceiptActivity | None = None,
        quiet_s: float = 0.0,
        max_wait_s: float = 0.0,
    ) -> None:
        self._spool = spool
        self._activity = activity or ReceiptActivity()
        self._quiet_s = quiet_s
        self._max_wait_s = max_wait_s
        self._pseudonymise = pseudonymise
        self._claims = claims
        self._sink = sink
        self._builder = builder
        self._threads_wanted = threads
        self._retry_delay_s = retry_delay_s
        self._nice = nice
        self._max_attempts = max_attempts
        self._rescan_interval_s = rescan_interval_s
        self.stats = stats or ListenerStats()
        self._queue: queue.Queue[str] = queue.Queue()
        self._queued: set[str] = set()
        self._retries: dict[str, float] = {}  # uid -> when to queue it again (monotonic)
        self._delays: dict[str, float] = {}  # uid -> last back-off
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._next_scan = 0.0

    def start(self) -> None:
        """Queue every pending instance (restart recovery) and start the threads."""
        resumed = self._spool.pending_uids()
        for uid in resumed:
            self.submit(uid)
        if resumed:
            log.info("resuming %d pending instances from the spool", len(resumed))
        self._next_scan = time.monotonic() + self._rescan_interval_s
        for index in range(self._threads_wanted):
            thread = threading.Thread(target=self._run, name=f"dicom-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, uid: str) -> None:
        """Queue a newly spooled instance."""
        with self._lock:
            if uid in self._queued:
                return
            self._queued.add(uid)
        self._queue.put(uid)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the film in hand and stop; what is left stays pending for the next start."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._builder.close()  # kills a decoder still busy: its attempt does not count
        for thread in self._threads:
            thread.join(5.0)
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
            scan = now >= self._next_scan
            if scan:
                self._next_scan = now + self._rescan_interval_s
        for uid in due:
            self.submit(uid)
        if scan:  # released from quarantine, or left by a stopped sibling sharing the spool
            for uid in self._spool.pending_uids():
                with self._lock:
                    waiting = uid in self._retries
                if not waiting:
                    self.submit(uid)

    def _run(self) -> None:
        _lower_thread_priority(self._nice)
        try:
            self._builder.warm_up()
        except DecoderError as exc:
            log.warning("decoder process not started yet: %s", exc.reason)
        while not self._stop.is_set():
            self._requeue_due()
            try:
                uid = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            with self._lock:
                self._queued.discard(uid)
            try:
                # receipt first: the film waits while others are arriving (see activity.py)
                self._activity.wait_quiet(self._quiet_s, self._max_wait_s, self._stop.wait)
                if self._stop.is_set():
                    continue  # stays pending in the spool for the next start
                self._handle(uid)
            except Exception:  # never let a worker thread die; the film stays pending
                log.exception("processing SOP Instance %s failed unexpectedly", uid)
                self._schedule_retry(uid, "unexpected error")
            finally:
                self._queue.task_done()

    def _handle(self, uid: str) -> None:
        if not self._claims.try_claim(uid):
            return
        done = _Done.RETRY
        try:
            done = self._process(uid)
        finally:
            if done is _Done.COMPLETE:
                with self._lock:
                    self._delays.pop(uid, None)
                self._claims.complete(uid)
            else:
                self._claims.release(uid)

    def _process(self, uid: str) -> _Done:
        spool = self._spool
        if spool.finish_interrupted(uid):
            return _Done.COMPLETE
        if not spool.pending_path(uid).exists():
            return _Done.LEAVE if spool.quarantine.holds(uid) else _Done.COMPLETE
        attempts = spool.attempts.read(uid)
        if attempts.in_progress:  # the last attempt never finished: the listener died in it
            self.stats.count("decoder_failure", "interrupted")
            attempts = spool.attempts.failed(uid, INTERRUPTED)
        if attempts.count >= self._max_attempts:
            self._quarantine(uid, attempts)
            return _Done.LEAVE
        spool.attempts.begin(uid)
        started = time.perf_counter()
        try:
            outcome = self._builder.build(spool.pending_path(uid))
        except DecoderError as exc:
            return self._failed(uid, exc)
        except Exception as exc:  # the embedding step (the model) failed: count it, keep the film
            log.exception("embedding SOP Instance %s failed", uid)
            return self._failed(uid, DecoderError("error", f"{type(exc).__name__}: {exc}"))
        spool.attempts.clear(uid)
        return self._deliver(uid, outcome, started)

    def _deliver(self, uid: str, outcome: ChestFilm | Rejection, started: float) -> _Done:
        try:
            if isinstance(outcome, ChestFilm):
                self._sink.add_film(outcome)
                self._spool.mark_done(uid)
                self.stats.count("processed", "film")
                log.info(
                    "film %s of %s processed in %.0f ms",
                    uid,
                    self._pseudonymise(outcome.patient_key),
                    1000 * (time.perf_counter() - started),
                )
            else:
                self._sink.record_rejected_film(uid, outcome.reason, outcome.patient_key)
                self._spool.mark_rejected(uid, outcome.reason)
                self.stats.count("processed", "not_scored")
                who = self._pseudonymise(outcome.patient_key) if outcome.patient_key else "?"
                log.info("instance %s of %s not scored: %s", uid, who, outcome.reason)
        except Exception as exc:
            log.debug("sink failure for %s", uid, exc_info=True)
            self._schedule_retry(uid, f"could not store it: {type(exc).__name__}: {exc}")
            return _Done.RETRY
        return _Done.COMPLETE

    def _failed(self, uid: str, failure: DecoderError) -> _Done:
        if self._stop.is_set():  # killed because we are stopping: the attempt does not count
            self._spool.attempts.abandon(uid)
            return _Done.RETRY
        self.stats.count("decoder_failure", failure.kind)
        if failure.kind == "unavailable":  # no decoder process at all: not the film's doing
            self._spool.attempts.abandon(uid)
            self._schedule_retry(uid, failure.reason)
            return _Done.RETRY
        attempts = self._spool.attempts.failed(uid, failure.reason)
        if failure.detail:
            log.error("decoder error on SOP Instance %s:\n%s", uid, failure.detail)
        if attempts.count >= self._max_attempts:
            self._quarantine(uid, attempts)
            return _Done.LEAVE
        self._schedule_retry(
            uid, f"{failure.reason} (attempt {attempts.count} of {self._max_attempts})"
        )
        return _Done.RETRY

    def _quarantine(self, uid: str, attempts: Attempts) -> None:
        reason = f"{attempts.count} failed attempts; last: {attempts.reason}"
        self._spool.quarantine_instance(uid, reason)
        with self._lock:
            self._delays.pop(uid, None)
        self.stats.count("quarantined")
        log.error(
            "SOP Instance %s quarantined: %s (ventfusion dicom-quarantine list / release)",
            uid,
            reason,
        )

    def _schedule_retry(self, uid: str, why: str) -> None:
        with self._lock:
            previous = self._delays.get(uid, 0.0)
            delay = min(_MAX_DELAY_S, previous * 2 if previous else self._retry_delay_s)
            self._delays[uid] = delay
            self._retries[uid] = time.monotonic() + delay
        log.warning("processing SOP Instance %s failed: %s; retrying in %.0f s", uid, why, delay)
