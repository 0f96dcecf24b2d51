"""Load generation for the patient-view benchmarks: request bodies, the client, server CPU.

Shared by ``bench/bench_hooks.py`` and ``bench/bench_replicas.py``-style drivers: an asyncio httpx
client sends patient-view calls (a fresh ``hookInstance`` each) with pre-signed JWTs and reports
latency percentiles and throughput; server CPU is read from ``/proc/<pid>/stat``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import orjson

from fhir_adapter.cohort_fhir_export import build_observation, build_patient
from model.cohort import CohortPatient

ROOT = Path(__file__).resolve().parents[1]
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.4.1.999.1"
VITALS = {"heart_rate": 92, "resp_rate": 24, "spo2": 93, "fio2": 40, "temperature": 37.6,
          "sbp": 112, "dbp": 61, "map": 76, "o2_flow": 6, "gcs_total": 14}  # fmt: skip
LABS = {"pao2": 75, "lactate": 2.1}


def prefetch_body(patient: int, severity: float, now: datetime, ids: str) -> bytes:
    """A patient-view body: Patient + 48 h of hourly vitals (10) and 6-hourly labs (2)."""
    key = f"{MRN_SYSTEM}|MRN-B{patient}"
    resource = build_patient(CohortPatient(key, 64.0, "female", now - timedelta(days=3), now))
    vitals, labs = [], []
    for h in range(48):
        t = now - timedelta(hours=h, minutes=5)
        trend = severity * max(0.0, (6 - h) / 6)
        for n, (variable, base) in enumerate(VITALS.items()):
            value = round(base * (1 + 0.3 * trend * (1 if variable != "spo2" else -0.2)), 1)
            vitals.append(build_observation(f"{key}|{ids}", h * 100 + n, variable, value, t))
        if h % 6 == 0:
            for n, (variable, base) in enumerate(LABS.items()):
                labs.append(build_observation(f"{key}|{ids}", h * 100 + 50 + n, variable, base, t))

    def bundle(resources: list[dict[str, object]]) -> dict[str, object]:
        return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
                "entry": [{"resource": r} for r in resources]}  # fmt: skip

    for r in (*vitals, *labs):
        r["subject"] = {"reference": f"Patient/{resource['id']}"}
        r["meta"] = {"versionId": "1"}
    body = {
        "hook": "patient-view",
        "hookInstance": HOOK_INSTANCE,  # replaced per request: a repeat gets the first answer
        "context": {"userId": "Practitioner/bench", "patientId": resource["id"]},
        "prefetch": {"patient": resource, "vitals": bundle(vitals), "labs": bundle(labs)},
    }
    return orjson.dumps(body)


SERVICE = "ventfusion-patient-view"
HOOK_INSTANCE = "00000000-0000-4000-8000-000000000000"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its child processes, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(c) for c in children.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def run_level(
    base: str, bodies: list[bytes], tokens: list[str], concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(tokens)):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = bodies[i % len(bodies)].replace(
                    HOOK_INSTANCE.encode(), str(uuid.uuid4()).encode(), 1
                )
                started = time.perf_counter()
                response = await client.post(
                    f"/cds-services/{SERVICE}",
                    content=body,
                    headers={
                        "Authorization": f"Bearer {tokens[i]}",
                        "Content-Type": "application/json",
                    },
                )
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected statuses at c={concurrency}: {statuses}")
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "req_per_s": len(latencies) / elapsed,
    }


def wait_ready(base: str, server: subprocess.Popen[bytes], deadline: float) -> None:
    """Poll ``base``/readyz until the server answers 200; exit if it dies or ``deadline`` passes."""
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit(f"the server at {base} did not become ready")
        time.sleep(0.3)
