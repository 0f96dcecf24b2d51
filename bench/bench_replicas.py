"""Patient-view throughput with 1 and 2 API processes on one PostgreSQL database, side by side.

Each configuration gets a fresh PostgreSQL schema and N `ventfusion serve --no-dicom --no-worker`
processes on their own ports (as the Compose `api` replicas). The load generator of
`bench/bench_hooks.py` (imported) sends CDS Hooks patient-view calls with prefetch
(Patient + ~480 Observations) and a fresh JWT each (unique jti, so the replay cache in the
shared database is exercised); requests are spread round-robin over the replicas. The load
generator shares the machine with the servers: read the ratio, not absolute capacity.

    .venv/bin/python bench/bench_replicas.py [--database-url URL] [--requests 300] [--levels 8,32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from hook_load import (  # noqa: E402
    HOOK_INSTANCE,
    SERVICE,
    cpu_seconds,
    run_level,
    wait_ready,
)

from tests.support.ehr import TestEhr, full_prefetch, hook_request  # noqa: E402
from tests.support.server import free_port  # noqa: E402

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _start_replicas(n: int, db_url: str, ehr: TestEhr, work: Path) -> tuple[list[Any], list[str]]:
    jwks = ehr.write_jwks(work / "jwks.json")
    procs, bases = [], []
    for _ in range(n):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "VENTFUSION_DATA_DIR": str(work),
            # all replicas behind one public URL (the JWT audience), as behind the load balancer
            "VENTFUSION_PUBLIC_BASE_URL": "https://cds.example.org",
            "VENTFUSION_HOOKS__TRUSTED_ISSUERS": json.dumps({ehr.issuer: str(jwks)}),
            "VENTFUSION_SECURITY__PSEUDONYM_KEY": "bench-replicas-pseudonym-key-0123456789",
            "VENTFUSION_FHIR__WRITE_BACK": "true",
            "VENTFUSION_LOG_LEVEL": "WARNING",
        }
        command = [str(ROOT / ".venv/bin/ventfusion"), "serve", "--port", str(port),
                   "--no-dicom", "--no-worker"]  # fmt: skip
        procs.append(subprocess.Popen(command, env=env, cwd=work))
        bases.append(base)
    deadline = time.monotonic() + 180
    for proc, base in zip(procs, bases, strict=True):
        wait_ready(base, proc, deadline)
    return procs, bases


async def _round_robin(
    bases: list[str], bodies: list[bytes], tokens: list[str], concurrency: int
) -> dict[str, float]:
    """Split requests and connections evenly over the replicas; aggregate throughput."""
    n = len(bases)
    began = time.perf_counter()
    parts = await asyncio.gather(
        *(
            run_level(base, bodies, tokens[i::n], max(1, concurrency // n))
            for i, base in enumerate(bases)
        )
    )
    elapsed = time.perf_counter() - began
    requests = sum(int(p["requests"]) for p in parts)
    return {
        "concurrency": concurrency,
        "requests": requests,
        "req_per_s": requests / elapsed,
        # medians of the per-replica medians/p95s (each replica sees the same mix)
        "p50_ms": statistics.median(p["p50_ms"] for p in parts),
        "p95_ms": max(p["p95_ms"] for p in parts),
    }


def _fresh_schema(base_url: str) -> tuple[str, str]:
    schema = f"vf_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in base_url else "?"
    return schema, f"{base_url}{sep}options=-csearch_path%3D{schema}"


def _drop_schema(base_url: str, schema: str) -> None:
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def run_config(n: int, args: argparse.Namespace, ehr: TestEhr) -> list[dict[str, float]]:
    """Throughput of ``n`` replicas at each concurrency level."""
    schema, db_url = _fresh_schema(args.database_url)
    work = Path(tempfile.mkdtemp(prefix=f"vf-bench-replicas-{n}-"))
    procs, bases = _start_replicas(n, db_url, ehr, work)
    results = []
    try:
        now = datetime.now(UTC)
        bodies = [  # run_level gives each request its own hookInstance
            orjson.dumps(
                {
                    **hook_request(
                        f"bench-{p}",
                        prefetch=full_prefetch(
                            f"bench-{p}", f"MRN-B{p}", now=now, severity=(p % 5) / 4
                        ),
                    ),
                    "hookInstance": HOOK_INSTANCE,
                }
            )
            for p in range(args.patients)
        ]
        aud = f"https://cds.example.org/cds-services/{SERVICE}"
        warm = [ehr.token(aud, alg="RS384") for _ in range(args.warmup)]
        asyncio.run(_round_robin(bases, bodies, warm, 4))
        for level in (int(x) for x in args.levels.split(",")):
            for _ in range(args.repeats):
                tokens = [ehr.token(aud, alg="RS384") for _ in range(args.requests)]
                cpu_before = sum(cpu_seconds(p.pid) for p in procs)
                result = asyncio.run(_round_robin(bases, bodies, tokens, level))
                cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
                result["server_cpu_ms"] = cpu / args.requests * 1000
                result["replicas"] = n
                results.append(result)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        _drop_schema(args.database_url, schema)
    return results


def _median_by_level(results: list[dict[str, float]]) -> dict[int, dict[str, float]]:
    levels: dict[int, list[dict[str, float]]] = {}
    for r in results:
        levels.setdefault(int(r["concurrency"]), []).append(r)
    return {
        level: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        for level, rs in levels.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url", default=os.environ.get("VENTFUSION_TEST_DATABASE_URL", DEFAULT_DB)
    )
    parser.add_argument("--requests", type=int, default=300, help="requests per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per level (median reported)")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--levels", default="8,32")
    parser.add_argument("--out", type=Path, default=None, help="write results as JSON")
    args = parser.parse_args()

    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    ehr = TestEhr()
    one = _median_by_level(run_config(1, args, ehr))
    two = _median_by_level(run_config(2, args, ehr))
    load_after = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"PostgreSQL; cores={os.cpu_count()}; load average before {load_before}, "
          f"after {load_after}; {args.repeats} runs x {args.requests} requests per level "
          "(medians)")  # fmt: skip
    print("| concurrency | 1 process req/s | 2 processes req/s | ratio | p50 ms (1 / 2) "
          "| p95 ms (1 / 2) | server CPU ms/req (1 / 2) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for level in sorted(one):
        a, b = one[level], two[level]
        print(f"| {level} | {a['req_per_s']:.0f} | {b['req_per_s']:.0f} "
              f"| {b['req_per_s'] / a['req_per_s']:.2f}x | {a['p50_ms']:.0f} / {b['p50_ms']:.0f} "
              f"| {a['p95_ms']:.0f} / {b['p95_ms']:.0f} "
              f"| {a['server_cpu_ms']:.1f} / {b['server_cpu_ms']:.1f} |")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"1": one, "2": two}, indent=2))


if __name__ == "__main__":
    main()
