"""The C-STORE handler: a plain function, dependencies bound via ``evt_handlers``.

Every failure becomes a DIMSE status with an Error Comment naming the reason, and a log line with
the SOP Instance UID (never patient data); no exception leaves the handler and no traceback
reaches the peer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydicom.dataset import Dataset
from pynetdicom.events import Event

from dicom_listener import ReceiptError
from dicom_listener.association_log import AssociationLog
from dicom_listener.convert import SizeLimits, inspect_received
from dicom_listener.spool import FileSpool, SpoolFullError
from dicom_listener.statuses import OUT_OF_RESOURCES, PROCESSING_FAILURE, SUCCESS

log = logging.getLogger(__name__)

_COMMENT_MAX = 64  # Error Comment (0000,0902) is LO


def _requested_uid(event: Event) -> str | None:
    try:
        value = getattr(event.request, "AffectedSOPInstanceUID", None)
    except Exception:  # a malformed request must not hide the real failure
        return None
    return None if value is None else str(value)


def _failure(status: int, comment: str) -> Dataset:
    response = Dataset()
    response.Status = status
    response.ErrorComment = comment[:_COMMENT_MAX]
    return response


def handle_store(
    event: Event,
    spool: FileSpool,
    submit: Callable[[str], None],
    limits: SizeLimits,
    associations: AssociationLog,
) -> int | Dataset:
    """C-STORE: check, spool durably, then answer; processing is queued via ``submit``.

    ``0x0000`` only once the instance is fsynced in the spool (or is a duplicate of one already
    received); the failure statuses are listed in ``statuses`` and docs/dicom.md.
    """
    requested = _requested_uid(event)
    uid = requested or "(unknown)"
    try:
        data = event.encoded_dataset(include_meta=True)
        received = inspect_received(
            data, str(event.context.abstract_syntax), limits, requested_uid=requested
        )
        uid = received.sop_instance_uid
        is_new = spool.store(uid, data)
    except ReceiptError as exc:
        log.warning("refused SOP Instance %s: 0x%04X %s", uid, exc.status, exc)
        associations.stored(event, exc.status)
        return _failure(exc.status, str(exc))
    except SpoolFullError as exc:
        log.error("spool full, refused SOP Instance %s: %s", uid, exc)
        associations.stored(event, OUT_OF_RESOURCES)
        return _failure(OUT_OF_RESOURCES, "spool full: retry later")
    except OSError as exc:
        log.error("spool write failed for SOP Instance %s: %s", uid, exc)
        associations.stored(event, OUT_OF_RESOURCES)
        return _failure(OUT_OF_RESOURCES, "cannot write to the spool: retry later")
    except Exception:
        log.exception("unexpected failure receiving SOP Instance %s", uid)
        associations.stored(event, PROCESSING_FAILURE)
        return _failure(PROCESSING_FAILURE, "internal error in the receiver")
    if is_new:
        try:
            submit(uid)
        except Exception:  # durable already: the spool is resumed at the next start
            log.exception("could not queue SOP Instance %s", uid)
        log.info(
            "stored SOP Instance %s (%d bytes, %s)", uid, len(data), received.transfer_syntax_uid
        )
    else:
        log.info("duplicate SOP Instance %s acknowledged", uid)
    associations.stored(event, SUCCESS)
    return SUCCESS
