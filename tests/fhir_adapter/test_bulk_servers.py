"""Bulk round trip through every test server: export -> server -> read back -> import.

No test server implements ``$export``, so the read-back is what a Patient-level export holds:
the patient's resources found by search (paged), as the server now serves them (with its own
``meta.versionId`` / ``lastUpdated``). Importing them must give the same cohort as importing
the export itself (synthetic data).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from fhir_adapter.bulk import import_ndjson
from fhir_adapter.client import FhirClient
from fhir_adapter.cohort_fhir_export import export_cohort_fhir
from model.cohort import Cohort, read_cohort
from tests.fhir_adapter.conftest import MRN

OBSERVATIONS = 60  # a slice of one simulated stay: a few hours of vitals and labs, two pages
Json = dict[str, Any]


def _exported(tmp_path: Path) -> dict[str, list[Json]]:
    """One synthetic patient's export, the Observations cut to the first ``OBSERVATIONS``."""
    synth = pytest.importorskip("model.synth")
    synth.simulate(synth.SynthConfig(patients=1, seed=11, render_films=False), tmp_path / "c")
    export_cohort_fhir(tmp_path / "c", tmp_path / "export")
    kinds = ("Patient", "Encounter", "Procedure", "Observation")
    lines = {k: (tmp_path / "export" / f"{k}.ndjson").read_bytes().splitlines() for k in kinds}
    lines["Observation"] = lines["Observation"][:OBSERVATIONS]
    return {kind: [orjson.loads(line) for line in rows] for kind, rows in lines.items()}


def _write(folder: Path, resources: dict[str, list[Json]]) -> Path:
    folder.mkdir()
    for kind, rows in resources.items():
        (folder / f"{kind}.ndjson").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return folder


def _summary(cohort: Cohort) -> tuple[Any, ...]:
    patients = [(p.key, p.sex, p.age, p.stay_start, p.stay_end) for p in cohort.patients]
    rows = zip(cohort.m_key, cohort.m_time, cohort.m_variable, cohort.m_value, strict=True)
    return patients, sorted(rows), cohort.ventilation_start, cohort.synthetic


def test_an_export_loaded_into_the_server_reads_back_to_the_same_cohort(
    fhir_url: str, tmp_path: Path
) -> None:
    exported = _exported(tmp_path)
    (pid,) = (p["id"] for p in exported["Patient"])

    async def load_and_read_back() -> dict[str, list[Json]]:
        async with FhirClient(fhir_url) as client:
            for rows in exported.values():
                for resource in rows:
                    await client.update(resource)  # the ids of the export, kept
            found = {"Patient": [r async for r in client.search_objects("Patient", {"_id": pid})]}
            for kind in ("Encounter", "Procedure", "Observation"):
                params = {"patient": pid, "_count": "50"}
                found[kind] = [r async for r in client.search_objects(kind, params)]
            return found

    served = asyncio.run(load_and_read_back())
    assert {k: len(v) for k, v in served.items()} == {k: len(v) for k, v in exported.items()}
    assert all(r["meta"]["versionId"] for rows in served.values() for r in rows)
    original = import_ndjson(_write(tmp_path / "a", exported), tmp_path / "ca", mrn_system=MRN)
    again = import_ndjson(_write(tmp_path / "b", served), tmp_path / "cb", mrn_system=MRN)
    assert again.measurements == original.measurements > OBSERVATIONS  # panels give two
    assert _summary(read_cohort(tmp_path / "cb")) == _summary(read_cohort(tmp_path / "ca"))
