"""Hostile requests for the fuzz test and ``bench/bench_fuzz.py``: real resources, mutated.

Every field of a realistic request (the project's own FHIR fixtures, plus the HL7 examples of
``../shared/reference`` when present) is replaced by a wrong type, an absurd size or a bad
encoding, and whole bodies are re-encoded (UTF-16, Latin-1, BOM, truncated). Requests carry
valid credentials (a fresh CDS JWT per call), so the payloads reach the decoders. A seeded
``random.Random`` makes each run reproducible.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.support.ehr import hook_request, patient, searchset, ward_observations

Json = Any
SERVICE = "ventfusion-patient-view"

_DEEP: Json = 0
for _ in range(300):
    _DEEP = [_DEEP]

#: What a field may become: wrong types, sizes, encodings, extremes.
REPLACEMENTS: list[Json] = [
    None, 0, -1, 2**63, 10**400, 1.5, 1e308, -0.0, True, False, float("nan"),
    "", "x", "\x00", "a\x00b", "\ud800", "\u202e\u0000", "é" * 50, "9" * 400, "x" * 20_000,
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-13-45T99:99:99Z",
    "http://[::1", "Patient/../../x", [], [None], [1, "a", {}], {}, {"a": {"b": []}}, _DEEP,
]  # fmt: skip


def json_paths(value: Json, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every node of a JSON document (objects by key, arrays by index)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:50]):
            yield from json_paths(item, (*prefix, index))


def _set(doc: Json, path: tuple[Any, ...], value: Json) -> Json:
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return doc


def mutate(doc: Json, rng: random.Random, edits: int = 1) -> Json:
    """A deep copy of ``doc`` with ``edits`` fields replaced, removed, multiplied or retyped."""
    doc = copy.deepcopy(doc)
    for _ in range(edits):
        paths = list(json_paths(doc))
        path = rng.choice(paths)
        op = rng.random()
        if op < 0.65:
            doc = _set(doc, path, copy.deepcopy(rng.choice(REPLACEMENTS)))
        elif op < 0.75 and path:
            parent = doc
            for step in path[:-1]:
                parent = parent[step]
            del parent[path[-1]]
        elif op < 0.85:
            node = doc
            for step in path:
                node = node[step]
            size = len(json.dumps(node)) + 1  # many copies, within ~1 MB per body
            count = min(rng.choice((2, 50, 2000)), max(2, 1_000_000 // size))
            doc = _set(doc, path, [node] * count)
        else:
            node = doc
            for step in path:
                node = node[step]
            doc = _set(doc, path, {"value": node} if rng.random() < 0.5 else str(node)[:200])
    return doc


def encode(doc: Json, rng: random.Random) -> bytes:
    """JSON bytes, now and then in a wrong encoding or cut short."""
    text = json.dumps(doc)  # the stdlib writes lone surrogates, NaN and huge ints as asked
    roll = rng.random()
    if roll < 0.85:
        return text.encode("utf-8", "surrogatepass")
    if roll < 0.89:
        return text.encode("utf-16")
    if roll < 0.92:
        return text.encode("latin-1", "replace")
    if roll < 0.95:
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    return text.encode("utf-8", "surrogatepass")[: rng.randrange(0, max(1, len(text)))]


@dataclass
class Fixtures:
    """The realistic documents the mutations start from."""

    hook: Json
    observations: list[Json]
    notifications: list[Json]
    feedback: list[Json] = field(default_factory=list)


def load_fixtures(reference_dir: Path | None, patient_id: str = "pt-fz") -> Fixtures:
    """Own fixtures, plus the shared HL7 examples (Observations, Backport Bundles) if present."""
    now = datetime.now(UTC)
    observations = ward_observations(patient_id, now=now, severity=1.0, hours=3, prefix="fz")
    notifications: list[Json] = [observations[0]]
    feedback: list[Json] = []
    if reference_dir is not None and reference_dir.is_dir():
        for path in sorted((reference_dir / "fhir-r4-examples").glob("*Observation*.json")):
            example = json.loads(path.read_text())
            if example.get("resourceType") == "Observation":
                example["subject"] = {"reference": f"Patient/{patient_id}"}
                example["effectiveDateTime"] = now.isoformat()
                observations.append(example)
        backport = reference_dir / "subscriptions-backport"
        for path in sorted(backport.glob("r4*/Bundle-*notification*.json")):
            notifications.append(json.loads(path.read_text()))
        hl7 = reference_dir / "cds-hooks" / "examples-from-hl7-cds-hooks"
        for path in sorted(hl7.glob("hl7-spec-2[234]-*.json")):
            feedback.append(json.loads(path.read_text()))
    hook = hook_request(
        patient_id,
        prefetch={
            "patient": patient(patient_id, "MRN-FZ"),
            "vitals": searchset([o for o in observations if o is not observations[-1]]),
            "labs": searchset(observations[-1:]),
        },
    )
    return Fixtures(hook, observations, notifications, feedback)


@dataclass(frozen=True)
class Request:
    endpoint: str  # patient-view | feedback | notification | read
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]


TokenFor = Callable[[str], str]


class HostileRequests:
    """Generates hostile requests across the CDS service, feedback, notifications, read API."""

    def __init__(
        self,
        fixtures: Fixtures,
        token_for: TokenFor,
        *,
        audience_base: str,
        seed: int = 0,
        card_uuid: str = "",
        read_headers: Callable[[], dict[str, str]] = dict,
        notification_headers: Callable[[], dict[str, str]] = dict,
    ) -> None:
        self.fixtures = fixtures
        self.token_for = token_for
        self.audience = f"{audience_base}/cds-services/{SERVICE}"
        self.rng = random.Random(seed)
        self.card_uuid = card_uuid
        self.read_headers = read_headers
        self.notification_headers = notification_headers

    def cds_headers(self, path_suffix: str) -> dict[str, str]:
        token = self.token_for(self.audience + path_suffix)
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def patient_view(self) -> Request:
        doc = copy.deepcopy(self.fixtures.hook)
        doc["hookInstance"] = str(uuid.uuid4())
        body = encode(mutate(doc, self.rng, self.rng.choice((1, 1, 2, 4))), self.rng)
        return Request(
            "patient-view", "POST", f"/cds-services/{SERVICE}", body, self.cds_headers("")
        )

    def feedback(self) -> Request:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        own = {"feedback": [{"card": self.card_uuid or str(uuid.uuid4()), "outcome": "overridden",
                             "outcomeTimestamp": stamp}]}  # fmt: skip
        doc = self.rng.choice([own, own, *self.fixtures.feedback])
        body = encode(mutate(doc, self.rng, self.rng.choice((1, 2))), self.rng)
        path = f"/cds-services/{SERVICE}/feedback"
        return Request("feedback", "POST", path, body, self.cds_headers("/feedback"))

    def notification(self) -> Request:
        doc = self.rng.choice(self.fixtures.notifications)
        body = encode(mutate(doc, self.rng, self.rng.choice((1, 2, 3))), self.rng)
        headers = {"Content-Type": "application/fhir+json", **self.notification_headers()}
        if self.rng.random() < 0.1:
            return Request("notification", "PUT", "/fhir/notifications/Observation/fz-1", body,
                           headers)  # fmt: skip
        return Request("notification", "POST", "/fhir/notifications", body, headers)

    def read(self) -> Request:
        text = str(self.rng.choice(REPLACEMENTS))[:5000]
        junk = quote(text.encode("utf-8", "surrogatepass"), safe="")
        path = self.rng.choice([
            f"/fhir/RiskAssessment/{junk}", f"/fhir/RiskAssessment?patient={junk}",
            f"/fhir/RiskAssessment?patient=pt-fz&_count={junk}", f"/fhir/Device/{junk}",
            "/fhir/RiskAssessment?patient=pt-fz", "/fhir/RiskAssessment/1", "/fhir/metadata",
        ])  # fmt: skip
        return Request("read", "GET", path, None, self.read_headers())

    def next(self) -> Request:
        """One request; 40% patient-view, 20% feedback, 30% notifications, 10% read API."""
        roll = self.rng.random()
        if roll < 0.4:
            return self.patient_view()
        if roll < 0.6:
            return self.feedback()
        if roll < 0.9:
            return self.notification()
        return self.read()


class HostileEhr:
    """The FHIR server the notification processor re-reads from, answering mutated resources."""

    def __init__(self, fixtures: Fixtures, seed: int = 1, *, hostile_share: float = 0.5) -> None:
        self.fixtures = fixtures
        self.rng = random.Random(seed)
        self.hostile_share = hostile_share
        self.calls = 0

    def _maybe(self, doc: Json) -> Json:
        return mutate(doc, self.rng) if self.rng.random() < self.hostile_share else doc

    def answer(self, method: str, path: str) -> tuple[int, bytes]:
        """``(status, body)`` for a GET of ``path`` (``/fhir/...``, query ignored)."""
        self.calls += 1
        kind, _, rid = path.split("/fhir/", 1)[-1].partition("/")
        if kind == "Patient" and rid:
            doc = self._maybe({**patient(rid, f"MRN-{rid}"), "id": rid})
        elif kind == "Observation" and rid:
            doc = self._maybe({**self.rng.choice(self.fixtures.observations), "id": rid})
        elif kind == "Observation":
            picked = self.rng.sample(self.fixtures.observations, 3)
            doc = self._maybe(searchset([self._maybe(o) for o in picked]))
        else:
            return 404, b'{"resourceType": "OperationOutcome", "issue": []}'
        return 200, encode(doc, self.rng)
