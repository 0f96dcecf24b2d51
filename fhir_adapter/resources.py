"""Typed FHIR R4 models of only the fields VentFusion reads (msgspec Structs).

Every FHIR resource that enters the app is decoded here, one resource at a time: a resource of
the wrong shape (an int where a string is expected, a list where a code is, a missing ``id``)
becomes one ``Rejected`` with msgspec's reason and path, never an exception in the caller, so one
bad resource is one counted rejection, not a failed batch. Bundles keep their entries' resources
as raw JSON (``msgspec.Raw``) until each is decoded on its own.

msgspec rather than pydantic: measured side by side with ``bench/bench_hooks.py --decoders``
(docs/benchmarks.md). Unknown fields are ignored; field names are the FHIR JSON names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta, Raw, Struct

#: A FHIR ``id``: R4's 1-64 of A-Z a-z 0-9 - . plus ``_`` (seen in the wild, as URL-safe).
#: Checked wherever an id can reach a URL or the database.
FhirId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9\-._]{1,64}$")]
#: A FHIR string used as a key (no control characters, bounded): identifiers, codes we store.
KeyString = Annotated[str, Meta(pattern=r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]{1,300}$")]


class Coding(Struct, frozen=True):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(Struct, frozen=True):
    coding: list[Coding] = []
    text: str | None = None


class Reference(Struct, frozen=True):
    reference: str | None = None


Code = Annotated[str, Meta(max_length=64)]


class Meta_(Struct, frozen=True):  # noqa: N801 (msgspec.Meta is taken)
    versionId: FhirId | None = None  # noqa: N815 (FHIR JSON names)
    lastUpdated: str | None = None  # noqa: N815
    tag: list[Coding] = []


class Period(Struct, frozen=True):
    start: str | None = None
    end: str | None = None


class Quantity(Struct, frozen=True):
    value: float | None = None
    unit: Code | None = None
    code: Code | None = None
    system: str | None = None


class ObservationComponent(Struct, frozen=True):
    code: CodeableConcept | None = None
    valueQuantity: Quantity | None = None  # noqa: N815
    valueInteger: int | None = None  # noqa: N815
    dataAbsentReason: CodeableConcept | None = None  # noqa: N815


class Observation(Struct, frozen=True):
    resourceType: str  # noqa: N815
    id: FhirId
    status: Code = ""
    meta: Meta_ | None = None
    category: list[CodeableConcept] = []
    code: CodeableConcept | None = None
    subject: Reference | None = None
    effectiveDateTime: str | None = None  # noqa: N815
    effectiveInstant: str | None = None  # noqa: N815
    effectivePeriod: Period | None = None  # noqa: N815
    valueQuantity: Quantity | None = None  # noqa: N815
    valueInteger: int | None = None  # noqa: N815
    dataAbsentReason: CodeableConcept | None = None  # noqa: N815
    component: list[ObservationComponent] = []

    @property
    def version_id(self) -> str | None:
        """``meta.versionId`` (None when absent)."""
        return self.meta.versionId if self.meta else None


class Identifier(Struct, frozen=True):
    system: KeyString | None = None
    value: KeyString | None = None


class Patient(Struct, frozen=True):
    resourceType: str  # noqa: N815
    id: FhirId
    meta: Meta_ | None = None
    identifier: list[Identifier] = []
    gender: str | None = None
    birthDate: str | None = None  # noqa: N815


class Procedure(Struct, frozen=True):
    resourceType: str  # noqa: N815
    id: FhirId
    status: Code = ""
    code: CodeableConcept | None = None
    subject: Reference | None = None
    performedDateTime: str | None = None  # noqa: N815
    performedPeriod: Period | None = None  # noqa: N815


class Encounter(Struct, frozen=True):
    resourceType: str  # noqa: N815
    id: FhirId
    subject: Reference | None = None
    period: Period | None = None


class OperationOutcomeIssue(Struct, frozen=True):
    severity: str | None = None
    code: str | None = None
    diagnostics: str | None = None
    details: CodeableConcept | None = None


class OperationOutcome(Struct, frozen=True):
    issue: list[OperationOutcomeIssue] = []

    def text(self) -> str:
        """The issues as one line (diagnostics, else details text, else code)."""
        parts = []
        for issue in self.issue:
            text = issue.diagnostics or (issue.details.text if issue.details else None)
            parts.append(f"{issue.severity or 'error'}: {text or issue.code or ''}")
        return "; ".join(parts)


class BundleLink(Struct, frozen=True):
    relation: str
    url: str


class EntrySearch(Struct, frozen=True):
    mode: str | None = None


class BundleEntry(Struct, frozen=True):
    fullUrl: str | None = None  # noqa: N815
    resource: Raw = msgspec.field(default_factory=Raw)  # raw JSON, decoded alone; empty if absent
    search: EntrySearch | None = None

    @property
    def has_resource(self) -> bool:
        """True when the entry carries a resource (not absent, not ``null``)."""
        size = len(self.resource)
        return size > 0 and (size != 4 or bytes(self.resource) != b"null")  # copies only "null"


class Bundle(Struct, frozen=True):
    type: str | None = None
    link: list[BundleLink] = []
    entry: list[BundleEntry] = []

    def next_url(self) -> str | None:
        """The ``next`` link, if any."""
        return next((link.url for link in self.link if link.relation == "next"), None)


class TypedBundle(Bundle, frozen=True):
    """A Bundle with its ``resourceType`` (empty when absent): what a value that should be a
    Bundle is, read in one pass (the type checked after)."""

    resourceType: str = ""  # noqa: N815


class ParametersParameter(Struct, frozen=True):
    name: str
    part: list[ParametersParameter] = []
    valueString: str | None = None  # noqa: N815
    valueCode: str | None = None  # noqa: N815
    valueCanonical: str | None = None  # noqa: N815
    valueUri: str | None = None  # noqa: N815
    valueInstant: str | None = None  # noqa: N815
    valueDateTime: str | None = None  # noqa: N815
    valueInteger: int | None = None  # noqa: N815
    valueUnsignedInt: int | None = None  # noqa: N815
    valuePositiveInt: int | None = None  # noqa: N815
    valueReference: Reference | None = None  # noqa: N815
    valueCodeableConcept: CodeableConcept | None = None  # noqa: N815

    def value(self) -> str | int | CodeableConcept | None:
        """The value[x] present (a Reference as its reference string)."""
        if self.valueReference is not None:
            return self.valueReference.reference
        for value in (self.valueString, self.valueCode, self.valueCanonical, self.valueUri,
                      self.valueInstant, self.valueDateTime, self.valueInteger,
                      self.valueUnsignedInt, self.valuePositiveInt,
                      self.valueCodeableConcept):  # fmt: skip
            if value is not None:
                return value
        return None


class Parameters(Struct, frozen=True):
    parameter: list[ParametersParameter] = []


class NotificationEventR4B(Struct, frozen=True):
    eventNumber: str | int | None = None  # noqa: N815 (integer64: a JSON string in R4B)
    timestamp: str | None = None
    focus: Reference | None = None


class SubscriptionStatus(Struct, frozen=True):
    status: str | None = None
    type: str = ""
    eventsSinceSubscriptionStart: str | int | None = None  # noqa: N815
    notificationEvent: list[NotificationEventR4B] = []  # noqa: N815
    subscription: Reference | None = None
    topic: str | None = None
    error: list[CodeableConcept] = []


class ResourceHeader(Struct, frozen=True):
    """Just the type (and the id, whatever it is), to route a resource before decoding it."""

    resourceType: str  # noqa: N815
    id: Any = None

    @property
    def ref(self) -> str:
        """``Type/id`` for messages (bounded), or the type alone without a string id."""
        rid = self.id if isinstance(self.id, str) else ""
        return (f"{self.resourceType}/{rid}" if rid else self.resourceType)[:100]


class VersionOnly(Struct, frozen=True):
    """``meta.versionId`` alone (deduplicating a notification payload without trusting it)."""

    meta: Meta_ | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A resource that could not be used, and why (``ref`` is ``Type/id`` when known)."""

    ref: str
    reason: str


R = TypeVar("R", bound=Struct)

_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _decoder(model: type[R]) -> msgspec.json.Decoder[R]:
    found = _decoders.get(model)
    if found is None:
        found = _decoders[model] = msgspec.json.Decoder(model)
    return found


def resource_type_of(model: type[Struct]) -> str:
    """The FHIR type a model decodes (``Meta_`` etc. are not resources)."""
    return model.__name__


def decode(data: bytes | Raw, model: type[R]) -> R:
    """Decode JSON bytes into ``model``; raise ``msgspec.DecodeError``/``ValidationError``."""
    return _decoder(model).decode(data)


def decode_resource(data: bytes | Raw, model: type[R]) -> R | Rejected:
    """One resource of type ``model`` from its JSON; never raises.

    The ``resourceType`` must be the model's; anything else is a ``Rejected`` with the reason.
    """
    expected = resource_type_of(model)
    try:
        resource = decode(data, model)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        try:
            header = decode(data, ResourceHeader)
        except (msgspec.ValidationError, msgspec.DecodeError) as bad:
            return Rejected("?", f"not a FHIR resource: {bad}")
        if header.resourceType != expected:
            return Rejected(header.ref, f"expected a {expected}, got {header.resourceType[:40]!r}")
        return Rejected(header.ref, f"invalid {expected}: {exc}")
    kind = getattr(resource, "resourceType", expected)
    if kind != expected:
        return Rejected(f"{kind[:40]}/{getattr(resource, 'id', '')}",
                        f"expected a {expected}, got {kind[:40]!r}")  # fmt: skip
    return resource


def matched_entries(bundle: Bundle) -> list[tuple[int, Raw]]:
    """``(entry number, raw resource JSON)`` of the entries that carry a search match (or have no
    search mode), undecoded: an OperationOutcome with ``search.mode`` outcome or an included
    resource is left out, as is an entry without a resource."""
    return [
        (number, entry.resource)
        for number, entry in enumerate(bundle.entry)
        if entry.has_resource and (entry.search is None or entry.search.mode in (None, "match"))
    ]


def entry_resources(bundle: Bundle, model: type[R]) -> list[R | Rejected]:
    """The entries of ``bundle`` whose resource is a ``model``, each decoded on its own.

    Entries of other types (an OperationOutcome with ``search.mode`` outcome, included
    resources) are skipped; an entry whose resource is not a resource at all is a Rejected.
    """
    found: list[R | Rejected] = []
    for number, raw in matched_entries(bundle):
        one = decode_resource(raw, model)
        if isinstance(one, Rejected) and one.reason.startswith("expected a "):
            continue  # another resource type: not ours to count
        if isinstance(one, Rejected) and one.ref == "?":
            one = Rejected(f"entry[{number}]", one.reason)
        found.append(one)
    return found
