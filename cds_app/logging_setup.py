"""Logging configured once per entry point.

Rule for every module: log UIDs, resource ids and hashed keys, never patient names, MRNs or birth
dates. ``patient_ref`` gives a stable, non-reversible token for a patient key in logs.
"""

from __future__ import annotations

import hashlib
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


def patient_ref(patient_key: object) -> str:
    """A short pseudonymous token for a patient key, safe to log."""
    return "pt-" + hashlib.sha256(str(patient_key).encode()).hexdigest()[:12]
