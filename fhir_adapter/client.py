"""Async FHIR R4 REST client: paging, timeouts, retries with backoff, OperationOutcome errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

import httpx
import msgspec
import orjson

from fhir_adapter.errors import FhirHttpError, FhirUnavailableError
from fhir_adapter.outcome_building import outcome_text
from fhir_adapter.paging import PageCursor
from fhir_adapter.resources import (
    Bundle,
    R,
    Rejected,
    decode,
    decode_resource,
    entry_resources,
    resource_type_of,
)
from fhir_adapter.values import is_fhir_id

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
FHIR_JSON = "application/fhir+json"
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class FhirClient:
    """A small async client for one FHIR R4 base URL.

    Transient failures (connection errors, timeouts, 408/429/5xx) are retried with exponential
    backoff (honouring ``Retry-After``); other errors raise ``FhirHttpError`` at once with the
    server's OperationOutcome text.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            auth=auth,
            timeout=httpx.Timeout(timeout_s),
            headers={"Accept": FHIR_JSON},
            transport=transport,
        )

    async def __aenter__(self) -> FhirClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.isdigit():
                return min(float(retry_after), self.max_backoff_s)
        return float(min(self.backoff_s * (2**attempt), self.max_backoff_s))

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str | list[str]] | None = None,
        body: JsonDict | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request with retries; return the 2xx response or raise FhirHttpError."""
        content = orjson.dumps(body) if body is not None else None
        all_headers = {"Content-Type": FHIR_JSON} if content is not None else {}
        all_headers.update(headers or {})
        url = self._url(path_or_url)
        last_error = ""
        for attempt in range(self.retries + 1):
            response: httpx.Response | None = None
            try:
                response = await self._http.request(
                    method, url, params=params, content=content, headers=all_headers
                )
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                detail = outcome_text(response.content) or response.reason_phrase
                if response.status_code not in TRANSIENT_STATUSES:
                    raise FhirHttpError(response.status_code, detail, transient=False)
                last_error = f"{response.status_code}: {detail}"
            if attempt < self.retries:
                delay = self._delay(attempt, response)
                logger.info(
                    "FHIR %s %s failed (%s); retry in %.2fs", method, url, last_error, delay
                )
                await asyncio.sleep(delay)
        status = 0
        if last_error[:3].isdigit():
            status = int(last_error[:3])
        raise FhirUnavailableError(f"{method} {url}: {last_error}", status=status)

    async def get_json(
        self, path_or_url: str, params: Mapping[str, str | list[str]] | None = None
    ) -> JsonDict:
        """GET and decode a JSON object."""
        response = await self.request("GET", path_or_url, params=params)
        return _decode(response)

    async def read(self, model: type[R], resource_id: str) -> R | Rejected:
        """Read the current version of a resource, decoded on its own (a Rejected if malformed)."""
        kind = resource_type_of(model)
        if not is_fhir_id(resource_id):
            return Rejected(f"{kind}/?", "not a FHIR id")
        response = await self.request("GET", f"{kind}/{resource_id}")
        return decode_resource(response.content, model)

    async def search_pages(
        self, resource_type: str, params: Mapping[str, str | list[str]]
    ) -> AsyncIterator[Bundle]:
        """Yield each searchset Bundle page, following ``next`` links (``PageCursor`` rules)."""
        cursor = PageCursor(self.base_url)
        page = await self.search_page(resource_type, params)
        while True:
            yield page
            next_url = cursor.next(page)
            if next_url is None:
                return
            page = await self.search_page(next_url)

    async def search_page(
        self, path_or_url: str, params: Mapping[str, str | list[str]] | None = None
    ) -> Bundle:
        """One searchset Bundle: a search (``Type`` + ``params``) or a link ``PageCursor`` chose."""
        return _bundle(await self.request("GET", path_or_url, params=params))

    async def search(
        self, model: type[R], params: Mapping[str, str | list[str]]
    ) -> AsyncIterator[R | Rejected]:
        """The matching resources (``search.mode`` match) across all pages, each decoded alone."""
        async for page in self.search_pages(resource_type_of(model), params):
            for found in entry_resources(page, model):
                yield found

    async def search_objects(
        self, resource_type: str, params: Mapping[str, str | list[str]]
    ) -> AsyncIterator[JsonDict]:
        """The matching resources as plain JSON objects (for resources built and compared whole)."""
        async for page in self.search_pages(resource_type, params):
            for entry in page.entry:
                if not entry.has_resource or (entry.search and entry.search.mode == "include"):
                    continue
                resource = msgspec.json.decode(entry.resource)
                if isinstance(resource, dict) and resource.get("resourceType") == resource_type:
                    yield resource

    async def create(self, resource: JsonDict, *, if_none_exist: str | None = None) -> str:
        """POST a resource (conditionally with If-None-Exist); return its ``Type/id`` location."""
        headers = {"If-None-Exist": if_none_exist} if if_none_exist else {}
        response = await self.request(
            "POST", str(resource["resourceType"]), body=resource, headers=headers
        )
        return _location(response, resource)

    async def update(self, resource: JsonDict) -> str:
        """PUT a resource with a known id; return its ``Type/id`` location."""
        path = f"{resource['resourceType']}/{resource['id']}"
        response = await self.request("PUT", path, body=resource)
        return _location(response, resource)


def _bundle(response: httpx.Response) -> Bundle:
    try:
        return decode(response.content, Bundle)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise FhirHttpError(
            response.status_code, f"search answered no Bundle: {exc}", transient=False
        ) from exc


def _decode(response: httpx.Response) -> JsonDict:
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise FhirHttpError(response.status_code, "response is not JSON", transient=False) from exc
    if not isinstance(data, dict):
        raise FhirHttpError(response.status_code, "response is not a JSON object", transient=False)
    return data


def _location(response: httpx.Response, resource: JsonDict) -> str:
    header = response.headers.get("Location") or response.headers.get("Content-Location") or ""
    if header:
        parts = header.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2:
            return f"{parts[-2]}/{parts[-1]}"
    if response.content:
        body = _decode(response)
        if body.get("id"):
            return f"{body.get('resourceType', resource['resourceType'])}/{body['id']}"
    return str(resource["resourceType"])
