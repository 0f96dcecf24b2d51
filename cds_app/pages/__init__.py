"""The clinician risk page, its SMART on FHIR EHR launch, and the model card page."""
