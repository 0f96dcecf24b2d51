"""FHIR R4 adapter: Observations in (subscription, polling, bulk), RiskAssessments out."""


class FhirAdapterError(Exception):
    """Root exception of the FHIR adapter."""
