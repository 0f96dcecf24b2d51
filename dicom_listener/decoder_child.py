"""The decoder process's side: limits applied once, then one film per request until told to stop.

Runs in a process forked from a forkserver that imported this module (and with it pydicom, the
decoders, numpy, MONAI and torch) once, so a new decoder process does not pay those seconds of
imports; nothing of the listener's threads or sockets is inherited.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import traceback
import warnings
from multiprocessing.connection import Connection
from pathlib import Path

from dicom_listener.decoder import DecoderJob, DecoderLimits
from dicom_listener.pipeline import prepare_film


def _virtual_size() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0  # not Linux: no baseline (the limit is then the budget alone)


def _confine(limits: DecoderLimits) -> int:
    """Lower priority, cap the address space, no core dumps; returns the cap (0: none)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: parent decides
    if limits.nice > 0:
        os.nice(limits.nice)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cap = 0
    if limits.memory_bytes > 0:
        cap = _virtual_size() + limits.memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    import torch  # already imported by model.transforms in the forkserver

    torch.set_num_threads(1)  # one film at a time; no thread pool to fork or to reserve memory
    warnings.simplefilter("ignore")  # every problem with a film is reported as its reason
    logging.disable(logging.WARNING)
    return cap


def serve(conn: Connection, job: DecoderJob, limits: DecoderLimits) -> None:
    """Process entry point: answer each path with ``("ok", outcome)`` or ``("fail", ...)``."""
    try:
        cap = _confine(limits)
    except Exception as exc:  # cannot confine: refuse to decode anything
        conn.send(("fail", "error", f"cannot confine the decoder process: {exc}", ""))
        return
    conn.send(("ready", cap))
    for _ in range(limits.max_jobs):
        try:
            path = conn.recv()
        except (EOFError, OSError):  # the listener went away
            return
        if path is None:
            return
        try:
            outcome = prepare_film(Path(path), job.config, job.film_size)
            conn.send(("ok", outcome))
        except MemoryError:
            conn.send(("fail", "memory", f"out of memory (decoder limit {cap} bytes)", ""))
            return  # a process that hit its memory cap is not trusted with the next film
        except Exception as exc:
            detail = traceback.format_exc(limit=8)
            conn.send(("fail", "error", f"{type(exc).__name__}: {exc}"[:300], detail))
            return
