"""100 MB uploads, declared and chunked, against the real server: refused having read at most
the endpoint's limit, with bounded memory; unauthenticated ones having read nothing at all.

The app runs under uvicorn in this process; the upload is a raw socket streaming 64 KiB pieces
until the server cuts it off. ``ventfusion_request_body_bytes`` counts what the app read, the
peak RSS (``VmHWM`` after resetting it through ``/proc/self/clear_refs``) what it cost.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.settings import Settings
from cds_app.settings.security import SecuritySettings
from tests.cds_app.conftest import NOTIFICATION_SECRET, SERVICE_URL
from tests.cds_app.fakes import FakeRiskModel
from tests.support.ehr import TestEhr, hook_request, patient, searchset
from tests.support.server import running_server

MIB = 1024 * 1024
UPLOAD = 100 * MIB
LIMITS = {"cds-service": 1 * MIB, "cds-feedback": 256 * 1024, "fhir-notifications": 2 * MIB}
# One receive message of the server (a 256 KiB socket read plus what uvicorn buffers before it
# pauses reading) may arrive beyond the limit before the app refuses it; the app never sees it.
ONE_READ = 512 * 1024
RSS_BOUND = 48 * MIB  # the upload is 100 MiB; reading it into memory costs more than twice that

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc peak-RSS reset"
)


@dataclass
class Upload:
    status: int
    sent: int  # bytes the client got onto the wire before the server cut it off


def _peak_rss_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def upload(base: str, path: str, headers: dict[str, str], *, chunked: bool) -> Upload:
    """POST ``UPLOAD`` bytes of JSON-ish filler, streamed, until the server stops reading."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname or "", url.port or 80), timeout=30)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {UPLOAD}"
    head = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", "Content-Type: application/json",
            framing, *(f"{k}: {v}" for k, v in headers.items()), "", ""]  # fmt: skip
    sock.sendall("\r\n".join(head).encode())
    answer = bytearray()

    def read_answer() -> None:
        try:
            while b"\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    return
                answer.extend(data)
        except OSError:
            return

    reader = threading.Thread(target=read_answer, daemon=True)
    reader.start()
    piece = b" " * 65536
    frame = b"%x\r\n" % len(piece) + piece + b"\r\n" if chunked else piece
    sent = 0
    try:
        while sent < UPLOAD:
            sock.sendall(frame)
            sent += len(piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError:  # the server closed the connection: what we want
        pass
    reader.join(timeout=30)
    sock.close()
    status_line = bytes(answer).split(b"\r\n", 1)[0].split()
    return Upload(int(status_line[1]) if len(status_line) > 1 else 0, sent)


@pytest.fixture
def server(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> Iterator[tuple[str, AppContext]]:
    security = SecuritySettings.model_validate({
        **make_settings(sqlite_url).security.model_dump(),
        "max_hook_body_bytes": LIMITS["cds-service"],
        "max_feedback_body_bytes": LIMITS["cds-feedback"],
        "max_notification_body_bytes": LIMITS["fhir-notifications"],
    })  # fmt: skip
    settings = make_settings(sqlite_url).model_copy(update={"security": security})
    app = create_app(settings, model=FakeRiskModel())
    with running_server(app) as base:
        yield base, app.state.ctx


def _read_by_app(ctx: AppContext, endpoint: str) -> int:
    value = ctx.metrics.registry.get_sample_value(
        "ventfusion_request_body_bytes_total", {"endpoint": endpoint}
    )
    return int(value or 0)


FEEDBACK = "/cds-services/ventfusion-patient-view/feedback"
NOTIFY = "/fhir/notifications"
CASES = [
    # (endpoint, path, authenticated, chunked, expected status, at most read by the app)
    ("cds-service", "/cds-services/ventfusion-patient-view", False, False, 413, 0),
    ("cds-service", "/cds-services/ventfusion-patient-view", False, True, 401, 0),
    ("cds-service", "/cds-services/ventfusion-patient-view", True, False, 413, 0),
    ("cds-service", "/cds-services/ventfusion-patient-view", True, True, 413, MIB + ONE_READ),
    ("cds-feedback", FEEDBACK, False, True, 401, 0),
    ("cds-feedback", FEEDBACK, True, True, 413, 256 * 1024 + ONE_READ),
    ("fhir-notifications", NOTIFY, False, False, 413, 0),
    ("fhir-notifications", NOTIFY, False, True, 401, 0),
    ("fhir-notifications", NOTIFY, True, True, 413, 2 * MIB + ONE_READ),
]


@pytest.mark.parametrize(
    ("endpoint", "path", "authenticated", "chunked", "status", "most"),
    CASES,
    ids=[f"{c[0]}-{'auth' if c[2] else 'anon'}-{'chunked' if c[3] else 'declared'}" for c in CASES],
)
def test_a_100mb_upload_is_refused_having_read_at_most_the_limit(
    server: tuple[str, AppContext],
    ehr: TestEhr,
    endpoint: str,
    path: str,
    authenticated: bool,
    chunked: bool,
    status: int,
    most: int,
) -> None:
    base, ctx = server
    headers: dict[str, str] = {}
    if authenticated and endpoint == "fhir-notifications":
        headers["X-VentFusion-Secret"] = NOTIFICATION_SECRET
    elif authenticated:
        aud = SERVICE_URL + ("/feedback" if endpoint == "cds-feedback" else "")
        headers["Authorization"] = f"Bearer {ehr.token(aud)}"
    _peak_rss_reset()
    before = _peak_rss()
    result = upload(base, path, headers, chunked=chunked)
    growth = _peak_rss() - before
    assert result.status == status
    assert result.sent < UPLOAD // 4, "the server read the whole upload instead of cutting it off"
    assert growth < RSS_BOUND, f"peak RSS grew by {growth / MIB:.0f} MiB"
    assert _read_by_app(ctx, endpoint) <= most
    if status == 413:
        refused = ctx.metrics.registry.get_sample_value(
            "ventfusion_request_body_refused_total", {"endpoint": endpoint}
        )
        assert refused == 1


def test_bodies_within_the_limit_still_work(server: tuple[str, AppContext], ehr: TestEhr) -> None:
    base, ctx = server
    body = hook_request("p1", prefetch={"patient": patient("p1", "MRN1"), "vitals": searchset([]),
                                        "labs": searchset([])})  # fmt: skip
    answer = httpx.post(base + "/cds-services/ventfusion-patient-view", json=body,
                        headers={"Authorization": f"Bearer {ehr.token(SERVICE_URL)}"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert 0 < _read_by_app(ctx, "cds-service") < LIMITS["cds-service"]


def test_413_is_an_operation_outcome(server: tuple[str, AppContext], ehr: TestEhr) -> None:
    base, _ = server
    answer = httpx.post(base + "/cds-services/ventfusion-patient-view",
                        content=b" " * (LIMITS["cds-service"] + 1),
                        headers={"Authorization": f"Bearer {ehr.token(SERVICE_URL)}"})  # fmt: skip
    assert answer.status_code == 413
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "too-costly"
    assert answer.headers["content-type"] == "application/fhir+json"
