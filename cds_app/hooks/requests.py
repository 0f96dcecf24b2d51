"""CDS Hooks 2.0 request models (decoded with msgspec; responses are in ``schemas``).

They share the FHIR resource models of ``fhir_adapter.resources``: the prefetch values stay raw
JSON until each is decoded on its own, so a bad Observation is a counted rejection, and a body of
the wrong shape is a 400 with msgspec's reason and the JSON path.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import Meta, Raw, Struct

from cds_app.hooks.errors import BadRequestError
from fhir_adapter.resources import FhirId
from fhir_adapter.values import parse_instant

#: A printable, bounded token (no control characters): ids we store or send in headers.
Token = Annotated[str, Meta(pattern=r"^[^\x00-\x1F\x7F]{1,4096}$")]
ShortToken = Annotated[str, Meta(pattern=r"^[^\x00-\x1F\x7F]{1,200}$")]
HookInstance = Annotated[str, Meta(pattern=r"^[A-Za-z0-9\-._:]{1,128}$")]
Uuid = Annotated[str, Meta(pattern=r"^[A-Za-z0-9\-]{1,64}$")]

#: Feedback entries accepted in one POST (a CDS Client reports one user action per card).
MAX_FEEDBACK_ENTRIES = 100


class HookContext(Struct, frozen=True):
    patientId: FhirId  # noqa: N815 (CDS Hooks JSON names)
    userId: ShortToken | None = None  # noqa: N815
    encounterId: FhirId | None = None  # noqa: N815


class FhirAuthorization(Struct, frozen=True):
    access_token: Token
    token_type: ShortToken = "Bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int | None = None
    scope: str = ""
    subject: str = ""
    patient: FhirId | None = None


class HookRequest(Struct, frozen=True):
    hook: ShortToken
    hookInstance: HookInstance  # noqa: N815
    context: HookContext
    fhirServer: Annotated[str, Meta(max_length=2048)] | None = None  # noqa: N815
    fhirAuthorization: FhirAuthorization | None = None  # noqa: N815
    #: key -> raw JSON (``null`` included: a key the client had no data for)
    prefetch: dict[str, Raw] | None = None


class Coding(Struct, frozen=True, omit_defaults=True):
    code: ShortToken
    system: Annotated[str, Meta(max_length=300)] | None = None
    display: Annotated[str, Meta(max_length=300)] | None = None


class OverrideReason(Struct, frozen=True, omit_defaults=True):
    reason: Coding | None = None
    userComment: Annotated[str, Meta(max_length=2000)] | None = None  # noqa: N815


class AcceptedSuggestion(Struct, frozen=True):
    id: Uuid


class FeedbackEntry(Struct, frozen=True):
    card: Uuid
    outcome: Literal["accepted", "overridden"]
    outcomeTimestamp: Annotated[str, Meta(max_length=40)]  # noqa: N815
    acceptedSuggestions: Annotated[list[AcceptedSuggestion], Meta(max_length=20)] = []  # noqa: N815
    overrideReason: OverrideReason | None = None  # noqa: N815


class FeedbackRequest(Struct, frozen=True):
    feedback: Annotated[list[FeedbackEntry], Meta(min_length=1, max_length=MAX_FEEDBACK_ENTRIES)]


_HOOK_DECODER = msgspec.json.Decoder(HookRequest)
_FEEDBACK_DECODER = msgspec.json.Decoder(FeedbackRequest)
T = TypeVar("T")


def decode_hook_request(body: bytes) -> HookRequest:
    """The typed ``patient-view`` request; BadRequestError with the reason and JSON path."""
    return _decode(body, _HOOK_DECODER, "CDS Hooks request")


def decode_feedback(body: bytes) -> FeedbackRequest:
    """The typed feedback request; BadRequestError with the reason and JSON path."""
    request = _decode(body, _FEEDBACK_DECODER, "feedback")
    for number, entry in enumerate(request.feedback):
        where = f"feedback[{number}]"
        if entry.outcome == "accepted" and not entry.acceptedSuggestions:
            raise BadRequestError(f"{where}: accepted feedback needs acceptedSuggestions")
        if parse_instant(entry.outcomeTimestamp, strict=True) is None:
            raise BadRequestError(
                f"{where}.outcomeTimestamp must be an RFC 3339 date-time with seconds and a "
                "zone offset, e.g. 2026-03-01T10:05:31Z"
            )
    return request


def _decode(body: bytes, decoder: msgspec.json.Decoder[T], what: str) -> T:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise BadRequestError(f"invalid {what}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequestError(f"{what} is not JSON: {exc}") from exc
