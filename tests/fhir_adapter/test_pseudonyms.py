"""The adapter logs patients only through the pseudonymiser it is given, never the MRN."""

from __future__ import annotations

import asyncio
import logging

import pytest

from fhir_adapter.client import FhirClient
from fhir_adapter.identity import PatientResolver
from model.schemas import PatientKey
from tests.fhir_adapter.conftest import MRN, patient
from tests.support.fhir_server import FhirTestServer


def test_resolver_logs_the_given_pseudonym_not_the_mrn(
    fhir_server: FhirTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    pid = fhir_server.put(patient("MRN-NEVER-LOGGED"))["id"]
    tokens = {str(PatientKey(system=MRN, value=v)): f"pt-{i:016d}" for i, v in
              enumerate(["MRN-NEVER-LOGGED", "MRN-NOT-THERE"])}  # fmt: skip

    def pseudonymise(key: PatientKey | str) -> str:
        return tokens[str(key)]

    async def run() -> None:
        async with FhirClient(fhir_server.base_url, backoff_s=0.01) as client:
            resolver = PatientResolver(client, MRN, pseudonymise=pseudonymise)
            assert await resolver.key_for(f"Patient/{pid}") is not None
            missing = PatientKey(system=MRN, value="MRN-NOT-THERE")
            assert await resolver.ref_for(missing) is None

    caplog.set_level(logging.INFO, logger="fhir_adapter")
    asyncio.run(run())
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"Patient/{pid} is patient pt-0000000000000000" in logged
    assert "pt-0000000000000001" in logged
    assert "MRN-NEVER" not in logged
    assert "MRN-NOT-THERE" not in logged
