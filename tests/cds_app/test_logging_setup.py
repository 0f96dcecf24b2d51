from __future__ import annotations

import hashlib
import logging

import pytest

from cds_app.logging_setup import Pseudonymiser, StripQueryStrings
from model.schemas import PatientKey

MRN = "urn:oid:1.2|SYN7-000001"
KEY_A = b"a" * 32
KEY_B = b"b" * 32


def test_access_log_lines_lose_their_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/risk?key=urn:oid:1.2|SYN7-000001", "1.1", 200), None,
    )  # fmt: skip
    assert StripQueryStrings().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /risk HTTP/1.1" 200'


def test_pseudonym_is_stable_and_does_not_contain_the_mrn() -> None:
    pseudonymise = Pseudonymiser(KEY_A)
    token = pseudonymise(MRN)
    assert token == pseudonymise(PatientKey.parse(MRN))
    assert token.startswith("pt-")
    assert len(token) == 19
    assert "SYN7" not in token
    assert "000001" not in token
    assert token != pseudonymise("urn:oid:1.2|SYN7-000002")


def test_the_same_mrn_gives_different_pseudonyms_under_two_keys() -> None:
    assert Pseudonymiser(KEY_A)(MRN) != Pseudonymiser(KEY_B)(MRN)


def test_pseudonyms_are_not_an_unkeyed_hash() -> None:
    """What the issue broke in 0.67 s: hashing candidate MRNs finds nothing without the key."""
    token = Pseudonymiser(KEY_A)(MRN)
    assert token[3:] not in hashlib.sha256(MRN.encode()).hexdigest()
    candidates = {
        hashlib.sha256(f"urn:oid:1.2|SYN7-{n:06d}".encode()).hexdigest()[:16] for n in range(1000)
    }
    assert token[3:] not in candidates


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Pseudonymiser(b"short")
    assert "a" * 32 not in repr(Pseudonymiser(KEY_A))
