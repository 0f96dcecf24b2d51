"""pynetdicom event handlers: plain functions, dependencies bound via ``evt_handlers``.

Every failure becomes a DIMSE status and a log line with the SOP Instance UID (never patient data);
no exception leaves a handler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pynetdicom.events import Event

from dicom_listener import ReceiptError
from dicom_listener.convert import inspect_received
from dicom_listener.spool import FileSpool, SpoolFullError
from dicom_listener.statuses import (
    CANNOT_DECODE,
    OUT_OF_RESOURCES,
    PROCESSING_FAILURE,
    SUCCESS,
)

log = logging.getLogger(__name__)


def _requested_uid(event: Event) -> str:
    try:
        return str(getattr(event.request, "AffectedSOPInstanceUID", "(unknown)"))
    except Exception:  # a malformed request must not hide the real failure
        return "(unknown)"


def handle_store(event: Event, spool: FileSpool, submit: Callable[[str], None]) -> int:
    """C-STORE: check, spool durably, then answer; processing is queued via ``submit``.

    ``0x0000`` only once the instance is fsynced in the spool; ``0xA700`` when the spool is full
    or the disk fails; ``0xA900`` / ``0xC210`` for non-conformant or undecodable data.
    """
    uid = _requested_uid(event)
    try:
        data = event.encoded_dataset(include_meta=True)
        received = inspect_received(data, str(event.context.abstract_syntax))
    except ReceiptError as exc:
        log.warning("refused SOP Instance %s: 0x%04X %s", uid, exc.status, exc)
        return exc.status
    except Exception:
        log.exception("cannot read SOP Instance %s", uid)
        return CANNOT_DECODE
    try:
        is_new = spool.store(received.sop_instance_uid, data)
    except SpoolFullError as exc:
        log.error("spool full, refused SOP Instance %s: %s", received.sop_instance_uid, exc)
        return OUT_OF_RESOURCES
    except OSError:
        log.exception("spool write failed for SOP Instance %s", received.sop_instance_uid)
        return OUT_OF_RESOURCES
    except Exception:
        log.exception("unexpected failure storing SOP Instance %s", received.sop_instance_uid)
        return PROCESSING_FAILURE
    if is_new:
        try:
            submit(received.sop_instance_uid)
        except Exception:  # durable already: the spool is resumed at the next start
            log.exception("could not queue SOP Instance %s", received.sop_instance_uid)
        log.info(
            "stored SOP Instance %s (%d bytes, %s)",
            received.sop_instance_uid,
            len(data),
            received.transfer_syntax_uid,
        )
    else:
        log.info("duplicate SOP Instance %s acknowledged", received.sop_instance_uid)
    return SUCCESS


def handle_association(event: Event) -> None:
    """Log accepted and rejected associations (AE titles and address only)."""
    assoc = event.assoc
    log.info(
        "association %s from %s (%s:%s)",
        event.event.name,
        assoc.requestor.ae_title,
        assoc.requestor.address,
        assoc.requestor.port,
    )
