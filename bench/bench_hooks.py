"""CDS Hooks patient-view latency and throughput with prefetch (Patient + ~480 Observations).

Starts `ventfusion serve` (uvicorn, bundled model, SQLite, no DICOM listener, no worker) in a
subprocess, then drives it with an asyncio httpx load generator at concurrency 1, 8 and 32.
Every request carries a fresh JWT (ES384, unique jti) signed beforehand, so signing is not timed.
The load generator shares the machine with the server: read ratios, not capacities.

    .venv/bin/python bench/bench_hooks.py [--requests 300] [--cold]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from cds_app.demo.ehr_server import DemoEhrKey
from cds_app.demo.servers import free_port
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


def _cpu_seconds(pid: int) -> float:
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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _run_level(
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
        "p95_ms": _percentile(latencies, 95),
        "p99_ms": _percentile(latencies, 99),
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


def _compare_decoders(patients: int, rounds: int) -> None:
    from decoder_ab import run  # bench/ is on sys.path when this script runs

    now = datetime.now(UTC)
    bodies = [prefetch_body(p, (p % 5) / 4, now, "r") for p in range(patients)]
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    result = run(bodies, rounds)
    size_kb = len(bodies[0]) // 1024
    print(f"decode + validate each resource + map, {len(bodies)} bodies of {size_kb} KB, "
          f"{rounds} alternating rounds; load average {load}")  # fmt: skip
    print("| decoder | median µs per request |\n|---|---|")
    print(f"| pydantic 2 (twin models) | {result['pydantic_us']:.0f} |")
    print(f"| msgspec (fhir_adapter.resources) | {result['msgspec_us']:.0f} |")
    print(f"pydantic / msgspec = {result['ratio_pydantic_over_msgspec']:.2f}x; "
          f"{result['measurements']:.0f} measurements per request on both sides")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400, help="requests per level")
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="new Observation ids in every request (no mapping reuse across chart opens)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write results as JSON")
    parser.add_argument(
        "--decoders",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="only compare the typed edge's decoders (msgspec vs pydantic) in process, A/B",
    )
    args = parser.parse_args()
    if args.decoders:
        _compare_decoders(args.patients, args.decoders)
        return

    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    work = Path(tempfile.mkdtemp(prefix="vf-bench-hooks-"))
    ehr = DemoEhrKey(issuer="https://ehr.bench.example/")
    jwks = ehr.write_jwks(work / "jwks.json")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "VENTFUSION_DATA_DIR": str(work),
        "VENTFUSION_PUBLIC_BASE_URL": base,
        "VENTFUSION_HOOKS__TRUSTED_ISSUERS": json.dumps({ehr.issuer: str(jwks)}),
        "VENTFUSION_FHIR__WRITE_BACK": "true",
        "VENTFUSION_LOG_LEVEL": "WARNING",
    }
    command = [str(ROOT / ".venv/bin/ventfusion"), "serve", "--port", str(port), "--no-dicom",
               "--no-worker"]  # fmt: skip
    server = subprocess.Popen(command, env=env, cwd=work)
    try:
        wait_ready(base, server, time.monotonic() + 120)
        now = datetime.now(UTC)
        bodies = []
        count = args.requests if args.cold else args.patients
        for i in range(count):
            p = i % args.patients  # cold: new Observation ids in every request
            bodies.append(prefetch_body(p, (p % 5) / 4, now, f"r{i}" if args.cold else "r"))
        n_obs = sum(len(v["entry"]) for k, v in orjson.loads(bodies[0])["prefetch"].items()
                    if k != "patient")  # fmt: skip
        aud = f"{base}/cds-services/{SERVICE}"
        results = []
        warm = [ehr.token(aud) for _ in range(args.warmup)]
        asyncio.run(_run_level(base, bodies, warm, 4))
        for level in (int(x) for x in args.levels.split(",")):
            tokens = [ehr.token(aud) for _ in range(args.requests)]
            cpu_before = _cpu_seconds(server.pid)
            result = asyncio.run(_run_level(base, bodies, tokens, level))
            result["server_cpu_ms"] = (_cpu_seconds(server.pid) - cpu_before) / args.requests * 1000
            results.append(result)
    finally:
        server.terminate()
        server.wait(timeout=30)
    size_kb = len(bodies[0]) / 1024
    print(f"request: Patient + {n_obs} Observations, {size_kb:.0f} KB; "
          f"1 uvicorn process; cores={os.cpu_count()}; "
          f"{'cold: new ids per request' if args.cold else 'warm: same 20 patients'}")  # fmt: skip
    print(f"load average before: {load_before}")
    print("| concurrency | requests | p50 ms | p95 ms | p99 ms | req/s | server CPU ms/req |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['concurrency']} | {r['requests']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
              f"| {r['p99_ms']:.1f} | {r['req_per_s']:.0f} "
              f"| {r['server_cpu_ms']:.1f} |")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"results": results, "observations": n_obs}, indent=2))


if __name__ == "__main__":
    main()
