"""A small spec-following FHIR R4 server for tests (in memory, uvicorn on a loopback port).

Supports what VentFusion uses: read/vread, create (``If-None-Exist``), update, delete, searches
(``Observation?patient=&code=&date=&_lastUpdated=&category=&_count=``, ``Patient?identifier``,
``Procedure?patient=&code=``, ``Subscription?url=``, ``*?identifier=``, ``_sort`` on
``_lastUpdated``, ``date``, ``_id``) with offset ``next`` links,
Subscription delivery in both styles (R4 criteria rest-hook: empty POST or PUT of the resource;
Backport: history Bundle, R4 Parameters or R4B SubscriptionStatus status, empty / id-only /
full-resource, handshake and heartbeat), a SMART Backend Services token endpoint that verifies the
client assertion, and switches to be "down" (503), fail the next requests, refuse search
parameters, or ignore ``_sort`` as some servers do.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import httpx
import jwt
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.fhir_notify import notification_bundle
from tests.support.fhir_search import (
    SEARCH_PARAMETERS,
    Json,
    match,
    searchset_page,
    sort_resources,
)


def _outcome(status: int, code: str, text: str) -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    return Response(orjson.dumps(body), status, media_type="application/fhir+json")


def _json(data: Json, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers=headers, media_type="application/fhir+json")


@dataclass
class SmartClient:
    public_key_pem: bytes
    algorithm: str


@dataclass
class FhirTestServer:
    """Start with ``start()``; ``base_url`` is the FHIR base; ``stop()`` when done."""

    backport_status: str = "r4"  # "r4": Parameters; "r4b": SubscriptionStatus
    require_auth: bool = False
    token_lifetime_s: int = 300
    max_page: int = 50
    smart_clients: dict[str, SmartClient] = field(default_factory=dict)
    down: bool = False
    fail_next: list[int] = field(default_factory=list)  # statuses for the next requests
    deliver_notifications: bool = True
    unsupported: set[str] = field(default_factory=set)  # search parameters to refuse (400)
    ignore_sort: bool = False  # like servers that drop ``_sort``: newest first, whatever asked

    def __post_init__(self) -> None:
        self.store: dict[str, dict[str, list[Json]]] = {}
        self.deleted: set[str] = set()
        self.lock = threading.RLock()
        self.requests: list[tuple[str, str]] = []
        self.deliveries: list[tuple[str, int, bytes]] = []
        self.tokens: set[str] = set()
        self.jtis: set[str] = set()
        self.events: dict[str, int] = {}
        self._queue: queue.Queue[tuple[str, str, bytes, dict[str, str]] | None] = queue.Queue()
        routes = [
            Route("/fhir/auth/token", self._token, methods=["POST"]),
            Route("/fhir/metadata", self._metadata, methods=["GET"]),
            Route("/fhir/{type}", self._type, methods=["GET", "POST"]),
            Route("/fhir/{type}/{id}", self._instance, methods=["GET", "PUT", "DELETE"]),
            Route("/fhir/{type}/{id}/_history/{vid}", self._vread, methods=["GET"]),
        ]
        gate = Middleware(BaseHTTPMiddleware, dispatch=self._gate)
        self.app = Starlette(routes=routes, middleware=[gate])

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> FhirTestServer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            loop="asyncio",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        self._sender = threading.Thread(target=self._send_loop, daemon=True)
        self._sender.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("FHIR test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._queue.put(None)
        self._server.should_exit = True
        self._thread.join(5)
        self._sender.join(5)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/auth/token"

    # ---- storage ---------------------------------------------------------------------------
    def put(self, resource: Json, *, notify: bool = True) -> Json:
        """Store a new version of ``resource`` (id assigned if absent) and notify subscribers."""
        with self.lock:
            kind = resource["resourceType"]
            res = dict(resource)
            res.setdefault("id", str(uuid.uuid4()))
            versions = self.store.setdefault(kind, {}).setdefault(res["id"], [])
            stamp = datetime.now(UTC).isoformat(timespec="microseconds")
            res["meta"] = {
                **(res.get("meta") or {}),
                "versionId": str(len(versions) + 1),
                "lastUpdated": stamp,
            }
            versions.append(res)
            self.deleted.discard(f"{kind}/{res['id']}")
            if kind == "Subscription" and len(versions) == 1:
                res["status"] = "active"
                if self._is_backport(res):
                    self._notify(res, "handshake", [])
        if notify and kind != "Subscription":
            for sub in self.current("Subscription"):
                if sub.get("status") == "active" and self._criteriamatch(sub, res):
                    self._notify(sub, "event-notification", [res])
        return res

    def current(self, kind: str) -> list[Json]:
        with self.lock:
            return [
                v[-1]
                for rid, v in self.store.get(kind, {}).items()
                if f"{kind}/{rid}" not in self.deleted
            ]

    def search(self, kind: str, params: dict[str, list[str]], sort: str = "") -> list[Json]:
        """Current resources matching ``params``, by ``sort`` (default: oldest update first)."""
        unknown = (set(params) - SEARCH_PARAMETERS) | (set(params) & self.unsupported)
        if unknown:
            raise ValueError(f"unsupported search parameter {sorted(unknown)[0]!r}")
        found = [r for r in self.current(kind) if all(match(r, k, v) for k, v in params.items())]
        if self.ignore_sort:
            return sort_resources(found, "-_lastUpdated")
        return sort_resources(found, sort or "_lastUpdated")

    # ---- notifications ---------------------------------------------------------------------
    @staticmethod
    def _is_backport(sub: Json) -> bool:
        return any("backport" in p for p in (sub.get("meta") or {}).get("profile") or ())

    def _criteriamatch(self, sub: Json, res: Json) -> bool:
        criteria = sub.get("criteria", "")
        if self._is_backport(sub):
            exts = (sub.get("_criteria") or {}).get("extension") or ()
            criteria = next((e["valueString"] for e in exts if "filter" in e["url"]), "")
        kind, _, query = criteria.partition("?")
        if kind != res["resourceType"]:
            return False
        params: dict[str, list[str]] = {}
        for pair in filter(None, query.split("&")):
            name, _, value = pair.partition("=")
            params.setdefault(name, []).append(value)
        return match(res, "_id", [res["id"]]) and all(match(res, k, v) for k, v in params.items())

    def backport_bundle(self, sub: Json, kind: str, resources: list[Json], content: str) -> Json:
        """A notification Bundle for ``sub`` (event numbers counted per subscription)."""
        with self.lock:
            if kind == "event-notification":
                self.events[sub["id"]] = self.events.get(sub["id"], 0) + len(resources)
            total = self.events.get(sub["id"], 0)
        return notification_bundle(
            self.base_url, sub, kind, resources, content, total, self.backport_status
        )

    def _notify(self, sub: Json, kind: str, resources: list[Json]) -> None:
        if not self.deliver_notifications:
            return
        channel = sub.get("channel") or {}
        endpoint = channel["endpoint"]
        headers = dict(h.split(": ", 1) for h in channel.get("header") or ())
        if self._is_backport(sub):
            exts = (channel.get("_payload") or {}).get("extension") or ()
            content = next(
                (e["valueCode"] for e in exts if "payload-content" in e["url"]), "id-only"
            )
            body = orjson.dumps(self.backport_bundle(sub, kind, resources, content))
            self._queue.put(
                ("POST", endpoint, body, headers | {"Content-Type": "application/fhir+json"})
            )
        elif not channel.get("payload"):
            self._queue.put(("POST", endpoint, b"", headers))
        else:
            for r in resources:
                url = f"{endpoint.rstrip('/')}/{r['resourceType']}/{r['id']}"
                hdrs = headers | {"Content-Type": channel["payload"]}
                self._queue.put(("PUT", url, orjson.dumps(r), hdrs))

    def heartbeat(self, sub_id: str) -> None:
        """Send a heartbeat notification for a backport subscription."""
        self._notify(self.current_one("Subscription", sub_id), "heartbeat", [])

    def current_one(self, kind: str, rid: str) -> Json:
        with self.lock:
            return self.store[kind][rid][-1]

    def _send_loop(self) -> None:
        with httpx.Client(timeout=10) as client:
            while (job := self._queue.get()) is not None:
                method, url, body, headers = job
                try:
                    status = client.request(method, url, content=body, headers=headers).status_code
                except httpx.HTTPError:
                    status = 0
                with self.lock:
                    self.deliveries.append((url, status, body))
                self._queue.task_done()
            self._queue.task_done()

    def wait_deliveries(self, timeout: float = 10.0) -> None:
        """Block until every queued notification was sent (and answered)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    # ---- HTTP ------------------------------------------------------------------------------
    async def _gate(self, request: Request, call_next: Any) -> Response:
        self.requests.append((request.method, request.url.path))
        if self.down:
            return _outcome(503, "transient", "server is down for maintenance")
        if self.fail_next:
            return _outcome(self.fail_next.pop(0), "transient", "injected failure")
        open_paths = ("/fhir/auth/token", "/fhir/metadata")
        if self.require_auth and request.url.path not in open_paths:
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in self.tokens:
                return _outcome(401, "login", "missing or unknown access token")
        response: Response = await call_next(request)
        return response

    async def _metadata(self, request: Request) -> Response:
        return _json(
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "kind": "instance",
                "fhirVersion": "4.0.1",
                "format": ["json"],
            }
        )

    async def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return _json({"error": "unsupported_grant_type"}, 400)
        assertion = str(form.get("client_assertion", ""))
        try:
            client_id = jwt.decode(assertion, options={"verify_signature": False})["iss"]
            client = self.smart_clients[client_id]
            claims = jwt.decode(
                assertion,
                client.public_key_pem,
                algorithms=[client.algorithm],
                audience=self.token_url,
                options={"require": ["exp", "jti", "sub"]},
            )
        except (jwt.PyJWTError, KeyError):
            return _json({"error": "invalid_client"}, 401)
        if (
            claims["sub"] != client_id
            or claims["jti"] in self.jtis
            or claims["exp"] > time.time() + 310
        ):
            return _json({"error": "invalid_client"}, 401)
        self.jtis.add(claims["jti"])
        token = str(uuid.uuid4())
        self.tokens.add(token)
        return _json(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime_s,
                "scope": form.get("scope", ""),
            }
        )

    async def _type(self, request: Request) -> Response:
        kind = request.path_params["type"]
        if request.method == "POST":
            try:
                resource = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                return _outcome(400, "structure", "body is not JSON")
            if resource.get("resourceType") != kind:
                return _outcome(400, "invalid", "resourceType does not match the URL")
            condition = request.headers.get("If-None-Exist")
            if condition:  # the query part of a search URL: URL-decoded like one
                params: dict[str, list[str]] = {}
                for name, value in parse_qsl(condition, keep_blank_values=True):
                    params.setdefault(name, []).append(value)
                with self.lock:
                    found = self.search(kind, params)
                    if len(found) > 1:
                        return _outcome(412, "duplicate", "multiple matches")
                    if found:
                        return _json(
                            found[0], 200, {"Location": f"{self.base_url}/{kind}/{found[0]['id']}"}
                        )
                    resource.pop("id", None)
                    stored = self.put(resource)
            else:
                resource.pop("id", None)
                stored = self.put(resource)
            loc = f"{self.base_url}/{kind}/{stored['id']}/_history/{stored['meta']['versionId']}"
            return _json(stored, 201, {"Location": loc})
        query: dict[str, list[str]] = {}
        for name, value in request.query_params.multi_items():
            query.setdefault(name, []).append(value)
        count = min(int(query.pop("_count", [str(self.max_page)])[0]), self.max_page)
        offset = int(query.pop("_offset", ["0"])[0])
        sort = ",".join(query.pop("_sort", []))
        try:
            found = self.search(kind, query, sort)
        except ValueError as exc:
            return _outcome(400, "not-supported", str(exc))
        return _json(searchset_page(found, str(request.url), self.base_url, offset, count))

    async def _instance(self, request: Request) -> Response:
        kind, rid = request.path_params["type"], request.path_params["id"]
        if request.method == "PUT":
            resource = orjson.loads(await request.body())
            if resource.get("id") != rid:
                return _outcome(400, "invalid", "id does not match the URL")
            return _json(self.put(resource))
        with self.lock:
            if f"{kind}/{rid}" in self.deleted:
                return _outcome(410, "deleted", f"{kind}/{rid} was deleted")
            versions = self.store.get(kind, {}).get(rid)
            if not versions:
                return _outcome(404, "not-found", f"{kind}/{rid} is not known")
            if request.method == "DELETE":
                self.deleted.add(f"{kind}/{rid}")
                return Response(status_code=204)
            return _json(versions[-1])

    async def _vread(self, request: Request) -> Response:
        kind, rid, vid = (request.path_params[k] for k in ("type", "id", "vid"))
        versions = self.store.get(kind, {}).get(rid) or []
        if not vid.isdigit() or not 0 < int(vid) <= len(versions):
            return _outcome(404, "not-found", f"{kind}/{rid}/_history/{vid} is not known")
        return _json(versions[int(vid) - 1])
