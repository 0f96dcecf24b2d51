"""Observation ingest rate of the FHIR adapter (Observations/s), synthetic data.

Cases (median of --repeats runs each):
  bundle-reread   Backport full-resource notification Bundles -> parse -> re-read the Observations
                  with one ``Observation?_id=a,b,...`` search per Bundle (in-process HTTP through
                  httpx.MockTransport, no sockets) -> map -> dedup -> sink
  bundle-reread-single  the same with one GET Observation/<id> per Observation
  bundle-dup      the same Bundles delivered again: dedup on id + versionId, no re-read
  parse-map-only  parse the Bundle and map the included resources (what trusting the body costs)
  bulk-ndjson     bulk $export NDJSON -> cohort directory (import_ndjson)

    .venv/bin/python bench/bench_fhir_ingest.py [--observations 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from fhir_adapter.bulk import import_ndjson
from fhir_adapter.client import FhirClient
from fhir_adapter.codes import CodeTable
from fhir_adapter.ingest_state import MemoryCursorStore, MemorySeenStore
from fhir_adapter.notification_parsing import parse_notification
from fhir_adapter.observation_mapping import map_observation
from fhir_adapter.resources import Observation, decode_resource
from fhir_adapter.service import build_ingest
from model.schemas import Measurement, PatientKey

MRN = "urn:oid:2.16.840.1.113883.4.1.999.1"
VITALS = [
    ("8867-4", "/min", 60, 130),
    ("9279-1", "/min", 10, 35),
    ("59408-5", "%", 85, 100),
    ("8310-5", "Cel", 36, 39.5),
    ("3150-0", "%", 21, 80),
    ("2703-7", "mm[Hg]", 55, 120),
]
Json = dict[str, Any]


class CountingSink:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    def add_measurements(self, measurements: Sequence[Measurement]) -> int:
        new = {m.source_id for m in measurements} - self.ids
        self.ids |= new
        return len(new)

    def retract(self, source_ids: Sequence[str]) -> int:
        return 0


def make_observations(n: int, patients: int, seed: int = 0) -> list[Json]:
    rng = random.Random(seed)
    t0 = datetime.now(UTC) - timedelta(hours=40)
    out = []
    for i in range(n):
        code, unit, lo, hi = VITALS[i % len(VITALS)]
        out.append(
            {
                "resourceType": "Observation",
                "id": f"o{i}",
                "meta": {"versionId": "1", "lastUpdated": t0.isoformat()},
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "vital-signs",
                            }
                        ]
                    }
                ],
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": f"Patient/p{i % patients}"},
                "effectiveDateTime": (t0 + timedelta(minutes=i)).isoformat(),
                "valueQuantity": {
                    "value": round(rng.uniform(lo, hi), 1),
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
            }
        )
    return out


def make_bundles(observations: list[Json], per_bundle: int) -> list[bytes]:
    bundles = []
    for start in range(0, len(observations), per_bundle):
        chunk = observations[start : start + per_bundle]
        status = {
            "resourceType": "SubscriptionStatus",
            "type": "event-notification",
            "status": "active",
            "subscription": {"reference": "Subscription/s1"},
            "topic": "http://example.org/topic",
            "eventsSinceSubscriptionStart": str(start + len(chunk)),
            "notificationEvent": [
                {
                    "eventNumber": str(start + k + 1),
                    "focus": {"reference": f"Observation/{o['id']}"},
                }
                for k, o in enumerate(chunk)
            ],
        }
        entries = [{"fullUrl": "urn:uuid:1", "resource": status}]
        entries += [
            {"fullUrl": f"https://ehr/fhir/Observation/{o['id']}", "resource": o} for o in chunk
        ]
        bundles.append(
            orjson.dumps({"resourceType": "Bundle", "type": "history", "entry": entries})
        )
    return bundles


def fake_server(observations: list[Json], patients: int) -> httpx.MockTransport:
    by_id = {o["id"]: orjson.dumps(o) for o in observations}
    pats = {
        f"p{i}": orjson.dumps(
            {
                "resourceType": "Patient",
                "id": f"p{i}",
                "identifier": [{"system": MRN, "value": f"MRN{i:05d}"}],
            }
        )
        for i in range(patients)
    }

    def handler(request: httpx.Request) -> httpx.Response:
        kind, _, rid = request.url.path.rpartition("/fhir/")[2].partition("/")
        if kind == "Observation" and not rid:  # Observation?_id=a,b,c
            ids = request.url.params.get("_id", "").split(",")
            entries = b",".join(b'{"resource":' + by_id[i] + b"}" for i in ids if i in by_id)
            body = b'{"resourceType":"Bundle","type":"searchset","entry":[' + entries + b"]}"
            return httpx.Response(200, content=body)
        body = (by_id if kind == "Observation" else pats).get(rid)
        if body is None:
            return httpx.Response(404)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/fhir+json"})

    return httpx.MockTransport(handler)


async def bundle_rates(
    observations: list[Json], bundles: list[bytes], patients: int, *, batch: bool
) -> tuple[float, float]:
    client = FhirClient("https://ehr.example/fhir", transport=fake_server(observations, patients))
    services = build_ingest(
        client,
        CountingSink(),
        mrn_system=MRN,
        seen=MemorySeenStore(),
        cursors=MemoryCursorStore(),
        backfill=False,
    )
    services.processor.batch_reads = batch
    rates = []
    for _ in range(2):  # first delivery re-reads, the second is all duplicates
        start = time.perf_counter()
        for body in bundles:
            await services.processor.process(parse_notification(body, "application/fhir+json"))
        rates.append(len(observations) / (time.perf_counter() - start))
    await client.aclose()
    return rates[0], rates[1]


def parse_map_rate(observations: list[Json], bundles: list[bytes]) -> float:
    codes = CodeTable()
    key = PatientKey(system=MRN, value="MRN00000")
    start = time.perf_counter()
    for body in bundles:
        hint = parse_notification(body, "application/fhir+json")
        for raw in hint.resources.values():
            resource = decode_resource(raw, Observation)
            if isinstance(resource, Observation):
                map_observation(resource, key, codes)
    return len(observations) / (time.perf_counter() - start)


def bulk_rate(observations: list[Json], patients: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "export"
        src.mkdir()
        pats = [
            {
                "resourceType": "Patient",
                "id": f"p{i}",
                "gender": "female",
                "identifier": [{"system": MRN, "value": f"MRN{i:05d}"}],
            }
            for i in range(patients)
        ]
        (src / "Patient.ndjson").write_bytes(b"\n".join(orjson.dumps(p) for p in pats) + b"\n")
        (src / "Observation.ndjson").write_bytes(
            b"\n".join(orjson.dumps(o) for o in observations) + b"\n"
        )
        start = time.perf_counter()
        report = import_ndjson(src, Path(tmp) / "cohort", mrn_system=MRN, synthetic=True)
        elapsed = time.perf_counter() - start
        assert report.measurements == len(observations)
    return len(observations) / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--observations", type=int, default=10_000)
    parser.add_argument("--bulk-observations", type=int, default=100_000)
    parser.add_argument("--per-bundle", type=int, default=50)
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    observations = make_observations(args.observations, args.patients)
    bundles = make_bundles(observations, args.per_bundle)
    bulk_obs = make_observations(args.bulk_observations, args.patients, seed=1)
    results: dict[str, list[float]] = {
        "bundle-reread-single": [],
        "bundle-reread": [],
        "bundle-dup": [],
        "parse-map-only": [],
        "bulk-ndjson": [],
    }
    for _ in range(args.repeats):
        single, _ = asyncio.run(bundle_rates(observations, bundles, args.patients, batch=False))
        results["bundle-reread-single"].append(single)
        reread, dup = asyncio.run(bundle_rates(observations, bundles, args.patients, batch=True))
        results["bundle-reread"].append(reread)
        results["bundle-dup"].append(dup)
        results["parse-map-only"].append(parse_map_rate(observations, bundles))
        results["bulk-ndjson"].append(bulk_rate(bulk_obs, args.patients))
    print(
        f"synthetic: {args.observations} Observations in Bundles of {args.per_bundle}, "
        f"{args.bulk_observations} in NDJSON, {args.patients} patients, {args.repeats} repeats"
    )
    print("| case | Observations/s (median) | min | max |")
    print("|---|---|---|---|")
    for name, values in results.items():
        low, mid, high = min(values), statistics.median(values), max(values)
        print(f"| {name} | {mid:,.0f} | {low:,.0f} | {high:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
