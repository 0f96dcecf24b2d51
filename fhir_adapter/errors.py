"""Exceptions of the FHIR adapter; all derive from ``FhirAdapterError``."""

from __future__ import annotations

from fhir_adapter import FhirAdapterError


class FhirHttpError(FhirAdapterError):
    """The FHIR server answered an error; ``transient`` says whether a retry may succeed."""

    def __init__(self, status: int, message: str, *, transient: bool) -> None:
        super().__init__(f"FHIR server answered {status}: {message}")
        self.status = status
        self.detail = message
        self.transient = transient


class FhirUnavailableError(FhirHttpError):
    """The FHIR server could not be reached or kept failing transiently after retries."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(status, message, transient=True)


class NotificationFormatError(FhirAdapterError):
    """A notification body is not valid JSON or not a recognisable FHIR notification."""


class UnsupportedContentTypeError(NotificationFormatError):
    """A notification arrived with a content type other than FHIR/JSON."""


class MappingError(FhirAdapterError):
    """A FHIR resource cannot be mapped to a domain object."""


class FhirAuthError(FhirAdapterError):
    """Obtaining an access token failed (SMART Backend Services)."""
