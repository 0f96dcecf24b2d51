"""Logging configured once per entry point.

Rule for every module: log UIDs, resource ids and keyed pseudonyms, never patient names, MRNs or
birth dates, not even as an unkeyed hash. ``Pseudonymiser`` gives the token of a patient key: an
HMAC-SHA256 under the process's secret (``cds_app.security.pseudonym_key``), so a list of
candidate MRNs cannot be hashed and matched against the logs without that secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from datetime import UTC, datetime

_CONFIGURED = False


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload)


class StripQueryStrings(logging.Filter):
    """Drop query strings from uvicorn access-log lines.

    Query strings can carry patient identifiers (``/risk?key=<system>|<MRN>``, FHIR searches by
    identifier); the path and status are what operators need.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2].split("?", 1)[0]
            record.args = (*args[:2], path, *args[3:])
        return True


def configure_logging(level: str = "INFO", *, json_format: bool = False) -> None:
    """Install one stderr handler on the root logger (idempotent)."""
    global _CONFIGURED
    root = logging.getLogger()
    root.setLevel(level)
    if _CONFIGURED:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter()
        if json_format
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    logging.getLogger("uvicorn.access").addFilter(StripQueryStrings())
    for noisy in ("pynetdicom", "httpx", "httpcore", "multipart"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _CONFIGURED = True


MIN_PSEUDONYM_KEY_BYTES = 32
_PSEUDONYM_CONTEXT = b"ventfusion-log-pseudonym-v1|"


class Pseudonymiser:
    """Keyed log pseudonyms: ``pt-`` + 16 hex digits of HMAC-SHA256(key, ``system|value``).

    Stable for one key (logs of one patient can be followed), different under another key (a
    rotated key unlinks old logs from new ones), and not computable without the key.
    Implements ``model.ports.Pseudonymiser``.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_PSEUDONYM_KEY_BYTES:
            raise ValueError(f"a pseudonym key needs at least {MIN_PSEUDONYM_KEY_BYTES} bytes")
        self._key = key

    def __call__(self, patient_key: object) -> str:
        """The token of ``patient_key`` (a ``PatientKey`` or its ``system|value`` text)."""
        message = _PSEUDONYM_CONTEXT + str(patient_key).encode()
        return "pt-" + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return "Pseudonymiser(<key hidden>)"
