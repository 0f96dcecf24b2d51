"""Errors of the CDS service, each answered with its own HTTP status at the edge."""

from __future__ import annotations

from cds_app import CdsAppError


class BadRequestError(CdsAppError, ValueError):
    """The call is not a valid CDS Hooks request (answered with 400 and the reason)."""


class DataUnavailableError(CdsAppError):
    """Neither prefetch nor the FHIR server gave what the service needs (answered with 412)."""
