"""The demo EHR: an in-memory FHIR R4 server, its JWT signing key and its JWKS.

It stores Patients and Observations of the simulated ward, answers the reads and searches the app
makes (notification re-reads, patient resolution, polling), and accepts the RiskAssessment and
Device writes of the app's outbox (conditional create on ``identifier``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, FastAPI, Request, Response
from jwt.algorithms import ECAlgorithm

JsonDict = dict[str, Any]
FHIR_JSON = "application/fhir+json"


class DemoEhrKey:
    """The demo EHR's ES384 key: signs CDS Hooks JWTs; its public half goes to a JWKS file."""

    def __init__(self, issuer: str, kid: str = "demo-ehr-1") -> None:
        self.issuer = issuer
        self.kid = kid
        self._key = ec.generate_private_key(ec.SECP384R1())

    def write_jwks(self, path: Path) -> Path:
        """Write the JWK Set the app trusts for ``issuer``."""
        jwk = json.loads(ECAlgorithm.to_jwk(self._key.public_key()))
        jwk.update(kid=self.kid, use="sig", alg="ES384")
        path.write_text(json.dumps({"keys": [jwk]}))
        return path

    def token(self, aud: str, lifetime_s: int = 300) -> str:
        """A signed JWT for one call to ``aud``."""
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": aud, "exp": now + lifetime_s, "iat": now,
                  "jti": str(uuid.uuid4()), "tenant": "demo-icu"}  # fmt: skip
        return jwt.encode(claims, self._key, algorithm="ES384", headers={"kid": self.kid})


def _instant(text: object) -> datetime | None:
    if not isinstance(text, str) or "T" not in text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FhirStore:
    """Thread-safe in-memory resources by type and id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_type: dict[str, dict[str, JsonDict]] = {}
        self.writes: list[str] = []

    def put(self, resource: JsonDict) -> JsonDict:
        """Store ``resource`` (new version), stamping meta.versionId/lastUpdated."""
        with self._lock:
            table = self._by_type.setdefault(resource["resourceType"], {})
            old = table.get(resource["id"])
            version = int(old["meta"]["versionId"]) + 1 if old else 1
            meta = {
                **resource.get("meta", {}),
                "versionId": str(version),
                "lastUpdated": datetime.now(UTC).isoformat(),
            }
            stored = {**resource, "meta": meta}
            table[resource["id"]] = stored
            return stored

    def get(self, rtype: str, rid: str) -> JsonDict | None:
        with self._lock:
            return self._by_type.get(rtype, {}).get(rid)

    def all(self, rtype: str) -> list[JsonDict]:
        with self._lock:
            return list(self._by_type.get(rtype, {}).values())

    def by_identifier(self, rtype: str, token: str) -> JsonDict | None:
        system, _, value = token.partition("|")
        for resource in self.all(rtype):
            for ident in resource.get("identifier") or ():
                if ident.get("value") == value and (not system or ident.get("system") == system):
                    return resource
        return None


def _matches(obs: JsonDict, params: dict[str, str]) -> bool:
    patient = params.get("patient") or params.get("subject")
    if patient and obs["subject"]["reference"] != f"Patient/{patient.removeprefix('Patient/')}":
        return False
    category = params.get("category")
    if category and category not in {c["code"] for cat in obs["category"] for c in cat["coding"]}:
        return False
    for name, field in (("_lastUpdated", obs["meta"]["lastUpdated"]),
                        ("date", obs.get("effectiveDateTime"))):  # fmt: skip
        wanted = params.get(name)
        if not wanted:
            continue
        op, stamp = (
            (wanted[:2], wanted[2:]) if wanted[:2] in ("ge", "gt", "le", "lt") else ("ge", wanted)
        )
        left, right = _instant(field), _instant(stamp)
        if left is None or right is None:
            return False
        ok = {"ge": left >= right, "gt": left > right, "le": left <= right, "lt": left < right}
        if not ok[op]:
            return False
    return True


def _send(body: JsonDict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers)


def searchset(resources: list[JsonDict]) -> JsonDict:
    """A searchset Bundle."""
    bundle: JsonDict = {"resourceType": "Bundle", "type": "searchset", "total": len(resources)}
    if resources:
        bundle["entry"] = [{"resource": r, "search": {"mode": "match"}} for r in resources]
    return bundle


def build_ehr_app(store: FhirStore) -> FastAPI:
    """The demo EHR's FHIR API under ``/fhir``."""
    router = APIRouter(prefix="/fhir")

    @router.get("/metadata")
    def metadata() -> Response:
        return _send({"resourceType": "CapabilityStatement", "status": "active",
                      "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"]})  # fmt: skip

    @router.get("/{rtype}/{rid}")
    def read(rtype: str, rid: str) -> Response:
        found = store.get(rtype, rid)
        if found is None:
            return _send({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "not-found"}]}, 404)  # fmt: skip
        return _send(found)

    @router.get("/{rtype}")
    def search(rtype: str, request: Request) -> Response:
        params = dict(request.query_params)
        if "identifier" in params:
            hit = store.by_identifier(rtype, params["identifier"])
            return _send(searchset([hit] if hit else []))
        resources = store.all(rtype)
        if rtype == "Observation":
            resources = [r for r in resources if _matches(r, params)]
        return _send(searchset(resources))

    @router.post("/{rtype}")
    async def create(rtype: str, request: Request) -> Response:
        resource = orjson.loads(await request.body())
        condition = request.headers.get("if-none-exist", "")
        if condition.startswith("identifier="):
            existing = store.by_identifier(rtype, condition.removeprefix("identifier="))
            if existing is not None:
                return _send(existing, 200)
        resource["id"] = uuid.uuid4().hex[:16]
        stored = store.put(resource)
        store.writes.append(f"{rtype}/{stored['id']}")
        location = f"{request.base_url}fhir/{rtype}/{stored['id']}/_history/1"
        return _send(stored, 201, {"Location": location})

    app = FastAPI(title="VentFusion demo EHR")
    app.include_router(router)
    return app
