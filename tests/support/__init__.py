"""Test doubles that follow the real protocols (FHIR server, ...)."""
