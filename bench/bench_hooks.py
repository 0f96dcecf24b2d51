"""CDS Hooks patient-view latency, throughput and server CPU, A/B against the compute floor.

Starts ``ventfusion serve --no-dicom --no-worker`` (uvicorn, bundled model, JWT verification and
``jti`` recording, each call's prediction, outbox row, card, audit event and stored answer
committed before the response; its own SQLite file, or ``--database-url``) in a subprocess and
drives it with the asyncio httpx client of ``hook_load`` at each concurrency level. Every request
carries a fresh JWT (ES384, unique jti) signed beforehand, so signing is not timed.

``--floor`` also starts ``bench/floor_server.py`` (FastAPI + orjson + the prefetch mapped to a
48-hour array + a 2-layer GRU forward + a constant card; no auth, no database),
``--baseline [NAME=]DIR`` a VentFusion from another checkout (e.g. ``git archive`` of the commit
before a change), and ``--variant "NAME KEY=VALUE ..."`` this checkout with extra environment.
All servers run at once; each round measures every server at every level, the order alternating
between rounds, and the report gives medians over rounds and ratios to the floor, so every figure
is minutes apart from the one it is compared with. The client shares the machine with the
servers: read ratios.

    .venv/bin/python bench/bench_hooks.py --floor [--rounds 5] [--requests 200] [--levels 1,8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
from hook_load import ROOT, SERVICE, cpu_seconds, prefetch_body, run_level, wait_ready

from cds_app.demo.ehr_server import DemoEhrKey
from cds_app.demo.servers import free_port

METRICS = ("p50_ms", "p95_ms", "req_per_s", "server_cpu_ms")


@dataclass
class Server:
    """One server under test and its results per level (one dict per round)."""

    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] | None = None
    results: dict[int, list[dict[str, float]]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, cwd: Path) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, cwd=cwd)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _ventfusion(
    name: str,
    work: Path,
    ehr: DemoEhrKey,
    jwks: Path,
    database_url: str | None,
    checkout: Path | None = None,
    extra: dict[str, str] | None = None,
) -> Server:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = work / name
    data.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": database_url or f"sqlite:///{data / 'bench.sqlite3'}",
        "VENTFUSION_DATA_DIR": str(data),
        "VENTFUSION_PUBLIC_BASE_URL": base,
        "VENTFUSION_HOOKS__TRUSTED_ISSUERS": json.dumps({ehr.issuer: str(jwks)}),
        "VENTFUSION_FHIR__WRITE_BACK": "true",
        "VENTFUSION_LOG_LEVEL": "WARNING",
        # required outside the embedded default (e.g. on PostgreSQL); a benchmark-only key
        "VENTFUSION_SECURITY__PSEUDONYM_KEY": "bench-hooks-pseudonym-key-0123456789abcdef",
        **(extra or {}),
    }
    if checkout is not None:  # its packages ahead of this checkout's editable install
        env["PYTHONPATH"] = os.pathsep.join([str(checkout), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    command = [sys.executable, "-m", "cds_app.cli.main", "serve", "--port", str(port),
               "--no-dicom", "--no-worker"]  # fmt: skip
    return Server(name, command, env, port)


def _floor() -> Server:
    port = free_port()
    command = [sys.executable, str(ROOT / "bench/floor_server.py"), "--port", str(port)]
    return Server("floor", command, dict(os.environ), port)


def _variant(spec: str) -> tuple[str, dict[str, str]]:
    name, *pairs = shlex.split(spec)
    return name, dict(pair.split("=", 1) for pair in pairs)


def _measure(server: Server, bodies: list[bytes], ehr: DemoEhrKey, level: int, n: int) -> None:
    aud = f"{server.base}/cds-services/{SERVICE}"
    tokens = [ehr.token(aud) for _ in range(n)]
    assert server.process is not None
    cpu_before = cpu_seconds(server.process.pid)
    result = asyncio.run(run_level(server.base, bodies, tokens, level))
    result["server_cpu_ms"] = (cpu_seconds(server.process.pid) - cpu_before) / n * 1000
    server.results.setdefault(level, []).append(result)


def _median(server: Server, level: int, metric: str) -> float:
    return statistics.median(r[metric] for r in server.results[level])


def _report(servers: list[Server], levels: list[int], reference: Server | None) -> None:
    print("| server | c | p50 ms | p95 ms | req/s | server CPU ms/call |"
          + (f" × {reference.name}: p50 / p95 / req/s / CPU |" if reference else ""))  # fmt: skip
    print("|---|---|---|---|---|---|" + ("---|" if reference else ""))
    for server in servers:
        for level in levels:
            row = [_median(server, level, m) for m in METRICS]
            line = (f"| {server.name} | {level} | {row[0]:.1f} | {row[1]:.1f} | {row[2]:.0f} "
                    f"| {row[3]:.2f} |")  # fmt: skip
            if reference is not None:
                ref = [_median(reference, level, m) for m in METRICS]
                line += " " + " / ".join(f"{a / b:.2f}" for a, b in zip(row, ref, strict=True))
                line += " |"
            print(line)


def _bodies(args: argparse.Namespace, batch: str = "") -> list[bytes]:
    """The request bodies: one per patient (warm), or one per request with Observation ids of
    their own (cold; ``batch`` keeps every round and level's ids new)."""
    now = datetime.now(UTC)
    count = args.requests if args.cold else args.patients
    out = []
    for i in range(count):
        p = i % args.patients  # cold: new Observation ids in every request
        out.append(prefetch_body(p, (p % 5) / 4, now, f"r{batch}-{i}" if args.cold else "r"))
    return out


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_ab(args: argparse.Namespace) -> None:
    """Start the servers, alternate them over rounds, print medians and ratios."""
    work = Path(tempfile.mkdtemp(prefix="vf-bench-hooks-"))
    ehr = DemoEhrKey(issuer="https://ehr.bench.example/")
    jwks = ehr.write_jwks(work / "jwks.json")
    servers = [_ventfusion("ventfusion", work, ehr, jwks, args.database_url)]
    for spec in args.baseline:
        name, _, checkout = spec.rpartition("=")
        servers.append(
            _ventfusion(name or "baseline", work, ehr, jwks, args.database_url, Path(checkout))
        )
    for spec in args.variant:
        name, extra = _variant(spec)
        servers.append(_ventfusion(name, work, ehr, jwks, args.database_url, extra=extra))
    if args.floor:
        servers.insert(0, _floor())
    levels = [int(x) for x in args.levels.split(",")]
    bodies = _bodies(args)
    load_before = _loadavg()
    try:
        for server in servers:
            server.start(work)
        for server in servers:
            assert server.process is not None
            wait_ready(server.base, server.process, time.monotonic() + 180)
            aud = f"{server.base}/cds-services/{SERVICE}"
            warm = [ehr.token(aud) for _ in range(args.warmup)]
            asyncio.run(run_level(server.base, bodies, warm, 4))
        for round_no in range(args.rounds):
            order = servers if round_no % 2 == 0 else servers[::-1]
            for server in order:
                for level in levels:
                    if args.cold:  # ids no server has seen, in every round and level
                        bodies = _bodies(args, f"{round_no}-{level}")
                    _measure(server, bodies, ehr, level, args.requests)
    finally:
        for server in servers:
            server.stop()
    n_obs = sum(len(v["entry"]) for k, v in orjson.loads(bodies[0])["prefetch"].items()
                if k != "patient")  # fmt: skip
    print(f"request: Patient + {n_obs} Observations, {len(bodies[0]) / 1024:.0f} KB; "
          f"{'cold: new ids per request' if args.cold else f'warm: {args.patients} patients'}; "
          f"1 uvicorn process each; cores={os.cpu_count()}; "
          f"database: {args.database_url or 'SQLite per server'}")  # fmt: skip
    print(
        f"{args.rounds} rounds x {args.requests} requests per server and level, order "
        f"alternating; medians over rounds; load average {load_before} -> {_loadavg()}"
    )
    reference = servers[0] if args.floor else None
    _report(servers, levels, reference)
    if args.out:
        args.out.write_text(json.dumps({s.name: s.results for s in servers}, indent=2))


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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per level and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, server order alternating")
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--levels", default="1,8")
    parser.add_argument("--floor", action="store_true", help="measure the compute floor too")
    parser.add_argument("--baseline", action="append", default=[], metavar="[NAME=]CHECKOUT",
                        help="also measure VentFusion from another checkout")  # fmt: skip
    parser.add_argument("--variant", action="append", default=[], metavar='"NAME K=V ..."',
                        help="also measure this checkout with extra environment")  # fmt: skip
    parser.add_argument("--database-url", default=None, help="default: SQLite per server")
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
    run_ab(args)


if __name__ == "__main__":
    main()
