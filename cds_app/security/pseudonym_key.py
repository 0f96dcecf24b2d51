"""The secret behind log pseudonyms: from settings, from a file, or generated once per data dir.

Order: ``VENTFUSION_SECURITY__PSEUDONYM_KEY``, then ``…__PSEUDONYM_KEY_FILE``, then (embedded
default only; settings validation refuses the rest) ``<data_dir>/pseudonym.key``, created with
mode 0600 on first start and refused later if anyone else may read it.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cds_app import CdsAppError
from cds_app.logging_setup import MIN_PSEUDONYM_KEY_BYTES, Pseudonymiser
from cds_app.settings import Settings

KEY_FILE_NAME = "pseudonym.key"


class PseudonymKeyError(CdsAppError):
    """The pseudonym key is missing, too short or readable by others: the process must not start."""


def _read_key_file(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise PseudonymKeyError(f"cannot read the pseudonym key file {path}: {exc}") from exc
    if len(key) < MIN_PSEUDONYM_KEY_BYTES:
        raise PseudonymKeyError(
            f"the pseudonym key in {path} is shorter than {MIN_PSEUDONYM_KEY_BYTES} bytes"
        )
    return key


def _generated_key(data_dir: Path) -> bytes:
    """``<data_dir>/pseudonym.key``: created once (0600, race-free), then reused."""
    path = data_dir / KEY_FILE_NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise PseudonymKeyError(
                f"{path} may be read by other users (mode {mode:04o}); run chmod 600 on it"
            ) from None
        return _read_key_file(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode() + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return _read_key_file(path)


def pseudonym_key(settings: Settings) -> bytes:
    """The key bytes this process pseudonymises patient keys with."""
    security = settings.security
    configured = security.pseudonym_key.get_secret_value()
    if configured:
        return configured.encode()
    if security.pseudonym_key_file is not None:
        return _read_key_file(security.pseudonym_key_file)
    if not settings.embedded_default:  # settings validation already refuses this
        raise PseudonymKeyError("VENTFUSION_SECURITY__PSEUDONYM_KEY is required here")
    return _generated_key(settings.data_dir)


def build_pseudonymiser(settings: Settings) -> Pseudonymiser:
    """The process's pseudonymiser (raises PseudonymKeyError: fail closed at start)."""
    return Pseudonymiser(pseudonym_key(settings))
