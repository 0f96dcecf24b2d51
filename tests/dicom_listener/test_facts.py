"""Patient identity mapping and view facts."""

from __future__ import annotations

import pytest

from dicom_listener import FilmRejectedError
from dicom_listener.facts import IdentityRules, PatientIdentity, patient_key_for

RULES = IdentityRules(
    default_system="urn:oid:2.16.840.1.113883.4.1.999.1",
    issuer_systems={"STMARY": "https://stmary.example/mrn"},
)


def test_no_issuer_uses_the_local_mrn_system() -> None:
    key = patient_key_for(PatientIdentity("MRN-1"), RULES)
    assert str(key) == "urn:oid:2.16.840.1.113883.4.1.999.1|MRN-1"


def test_configured_issuer_maps_to_its_system() -> None:
    key = patient_key_for(PatientIdentity(" MRN-1 ", issuer="STMARY"), RULES)
    assert str(key) == "https://stmary.example/mrn|MRN-1"


def test_iso_universal_entity_id_becomes_an_oid_system() -> None:
    identity = PatientIdentity("77", "X", "1.2.3.4.5", "ISO")
    assert str(patient_key_for(identity, RULES)) == "urn:oid:1.2.3.4.5|77"


def test_unknown_issuer_is_never_matched_on_patient_id_alone() -> None:
    with pytest.raises(FilmRejectedError, match="IssuerOfPatientID"):
        patient_key_for(PatientIdentity("MRN-1", issuer="ELSEWHERE"), RULES)


def test_missing_patient_id_is_rejected() -> None:
    with pytest.raises(FilmRejectedError, match="PatientID"):
        patient_key_for(None, RULES)
