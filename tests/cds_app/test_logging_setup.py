from __future__ import annotations

import logging

from cds_app.logging_setup import StripQueryStrings, patient_ref


def test_access_log_lines_lose_their_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/risk?key=urn:oid:1.2|SYN7-000001", "1.1", 200), None,
    )  # fmt: skip
    assert StripQueryStrings().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /risk HTTP/1.1" 200'


def test_patient_ref_is_stable_and_does_not_contain_the_mrn() -> None:
    token = patient_ref("urn:oid:1.2|SYN7-000001")
    assert token == patient_ref("urn:oid:1.2|SYN7-000001")
    assert "SYN7" not in token
    assert token != patient_ref("urn:oid:1.2|SYN7-000002")
