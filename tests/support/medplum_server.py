"""Medplum's FHIR router (``tests/support/medplum/server.mjs``) as a Node child process.

A FHIR R4 implementation no one here wrote: its search matching, conditional create and
versioning check what our own fake (``fhir_server.py``) only encodes from our reading of the
specification. The npm packages are pinned in ``tests/support/medplum/package-lock.json`` and
installed by ``make test`` / ``make system-deps`` (``npm ci``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO

MEDPLUM_DIR = Path(__file__).resolve().parent / "medplum"
SERVER_SCRIPT = MEDPLUM_DIR / "server.mjs"
INSTALLED_STAMP = MEDPLUM_DIR / "node_modules" / "@medplum" / "fhir-router" / "package.json"
MIN_NODE_MAJOR = 20


class MedplumUnavailableError(RuntimeError):
    """Node or the pinned npm packages are missing (the message says how to get them)."""


def node_major(node: str) -> int:
    """The major version of the ``node`` executable (0 when it cannot be run)."""
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    head = out.stdout.strip().lstrip("v").split(".")[0]
    return int(head) if head.isdigit() else 0


def unavailable_reason() -> str | None:
    """Why the Medplum server cannot run here, or None when it can."""
    node = shutil.which("node")
    if node is None:
        return "Node.js is not installed (make system-deps installs it)"
    if node_major(node) < MIN_NODE_MAJOR:
        return f"Node.js {MIN_NODE_MAJOR}+ is needed for @medplum/fhir-router"
    if not INSTALLED_STAMP.is_file():
        return f"npm packages missing: run `make test-servers` (npm ci in {MEDPLUM_DIR})"
    return None


class MedplumServer:
    """``start()`` spawns the server on a free loopback port; ``base_url``; ``stop()``."""

    def __init__(self, *, startup_timeout_s: float = 60.0) -> None:
        self.startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self.base_url = ""

    def start(self) -> MedplumServer:
        reason = unavailable_reason()
        if reason is not None:
            raise MedplumUnavailableError(reason)
        node = shutil.which("node") or "node"
        # @medplum/core 5 expects a global WebSocket, which Node 20 only has behind this flag
        flags = ["--experimental-websocket"] if node_major(node) < 22 else []
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by stop()
        self._process = subprocess.Popen(
            [node, *flags, str(SERVER_SCRIPT)],
            cwd=MEDPLUM_DIR,
            stdin=subprocess.PIPE,  # the server exits when this closes
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env={**os.environ, "NODE_ENV": "test"},
        )
        ready: list[str] = []
        stdout = self._process.stdout
        reader = threading.Thread(target=_read_banner, args=(stdout, ready), daemon=True)
        reader.start()
        reader.join(self.startup_timeout_s)
        if not ready:
            error = self._stop_and_collect()
            raise RuntimeError(f"Medplum test server did not start: {error[-2000:]}")
        self.base_url = str(json.loads(ready[0])["base"])
        return self

    def _stop_and_collect(self) -> str:
        process, self._process = self._process, None
        if process is None:
            return ""
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        err, self._stderr = self._stderr, None
        if err is None:
            return ""
        err.seek(0)
        text = err.read()
        err.close()
        return text

    def stop(self) -> None:
        """Close the server's stdin (it exits) and wait for it."""
        self._stop_and_collect()


def _read_banner(stdout: IO[str] | None, ready: list[str]) -> None:
    """Put the server's first stdout line in ``ready`` if it is its JSON banner."""
    line = stdout.readline() if stdout is not None else ""
    if line.startswith("{"):
        ready.append(line)
