"""A bounded fuzz run against a real server: hostile requests at every door, totals by status.

Starts ``ventfusion serve --no-dicom --no-worker`` (bundled model, SQLite, JWT verification on),
whose FHIR server (for notification re-reads) is a local one answering mutated resources, then
sends ``--requests`` hostile requests from ``tests/support/hostile.py`` (CDS service with a fresh
ES384 JWT each, feedback, notifications with the shared secret, and the read API with a fresh
access token of a test authorization server, so every payload reaches the decoders rather than
the 401 path) and prints the totals by endpoint and status.
Exits non-zero on any HTTP 500. The shared HL7 examples are used when ``--reference`` exists.

    .venv/bin/python bench/bench_fuzz.py [--requests 5000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hook_load import wait_ready  # noqa: E402

from cds_app.demo.ehr_server import DemoEhrKey  # noqa: E402
from cds_app.demo.servers import free_port  # noqa: E402
from tests.support.auth_server import auth_server, read_headers  # noqa: E402
from tests.support.hostile import HostileEhr, HostileRequests, load_fixtures  # noqa: E402

NOTIFICATION_SECRET = "bench-fuzz-notification-secret"


def _serve_ehr(ehr: HostileEhr, port: int) -> uvicorn.Server:
    async def answer(request: Request) -> Response:
        status, body = ehr.answer(request.method, request.url.path)
        return Response(body, status_code=status, media_type="application/fhir+json")

    app = Starlette(routes=[Route("/fhir/{path:path}", answer, methods=["GET"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference")
    parser.add_argument("--out", type=Path, default=None, help="write the totals as JSON")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vf-bench-fuzz-"))
    key = DemoEhrKey(issuer="https://ehr.bench.example/")
    auth = auth_server()
    fixtures = load_fixtures(args.reference if args.reference.is_dir() else None)
    ehr_port, port = free_port(), free_port()
    ehr_server = _serve_ehr(HostileEhr(fixtures, seed=args.seed + 1), ehr_port)
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'fuzz.sqlite3'}",
        "VENTFUSION_DATA_DIR": str(work),
        "VENTFUSION_PUBLIC_BASE_URL": base,
        "VENTFUSION_HOOKS__TRUSTED_ISSUERS": json.dumps(
            {key.issuer: str(key.write_jwks(work / "jwks.json"))}
        ),
        "VENTFUSION_FHIR__BASE_URL": f"http://127.0.0.1:{ehr_port}/fhir",
        "VENTFUSION_FHIR__MRN_SYSTEM": "urn:oid:2.16.840.1.113883.4.1.999.1",
        "VENTFUSION_FHIR__NOTIFICATION_SECRET": NOTIFICATION_SECRET,
        "VENTFUSION_READ_API__ISSUER": auth.issuer,
        "VENTFUSION_READ_API__JWKS": str(auth.write_jwks(work / "auth-jwks.json")),
        "VENTFUSION_LOG_LEVEL": "ERROR",
    }
    command = [str(ROOT / ".venv/bin/ventfusion"), "serve", "--port", str(port), "--no-dicom",
               "--no-worker"]  # fmt: skip
    server = subprocess.Popen(command, env=env, cwd=work)
    totals: Counter[tuple[str, int]] = Counter()
    started = time.monotonic()
    try:
        wait_ready(base, server, time.monotonic() + 120)
        requests = HostileRequests(
            fixtures,
            key.token,
            audience_base=base,
            seed=args.seed,
            read_headers=lambda: read_headers(auth, f"{base}/fhir"),
            notification_headers=lambda: {"X-VentFusion-Secret": NOTIFICATION_SECRET},
        )
        with httpx.Client(base_url=base, timeout=60) as client:
            first = requests.patient_view()
            response = client.post(first.path, json=fixtures.hook, headers=first.headers)
            cards = response.json().get("cards") if response.status_code == 200 else None
            requests.card_uuid = cards[0]["uuid"] if cards else ""
            for _ in range(args.requests):
                request = requests.next()
                answer = client.request(request.method, request.path, content=request.body,
                                        headers=request.headers)  # fmt: skip
                totals[(request.endpoint, answer.status_code)] += 1
    finally:
        server.terminate()
        server.wait(timeout=30)
        ehr_server.should_exit = True
    elapsed = time.monotonic() - started
    print(f"{sum(totals.values())} hostile requests in {elapsed:.0f} s (seed {args.seed}; "
          f"HL7 examples: {'yes' if args.reference.is_dir() else 'no'})")  # fmt: skip
    statuses = sorted({status for _, status in totals})
    endpoints = ["patient-view", "feedback", "notification", "read"]
    print("| endpoint | " + " | ".join(str(s) for s in statuses) + " | total |")
    print("|---" * (len(statuses) + 2) + "|")
    for endpoint in endpoints:
        row = [totals[(endpoint, s)] for s in statuses]
        print(f"| {endpoint} | " + " | ".join(f"{n:,}" for n in row) + f" | {sum(row):,} |")
    column = [sum(totals[(e, s)] for e in endpoints) for s in statuses]
    print("| all | " + " | ".join(f"{n:,}" for n in column) + f" | {sum(column):,} |")
    if args.out:
        args.out.write_text(json.dumps({f"{e} {s}": n for (e, s), n in totals.items()}))
    if any(status == 500 for _, status in totals):
        raise SystemExit("HTTP 500 answered")


if __name__ == "__main__":
    main()
