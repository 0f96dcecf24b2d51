"""The OpenAPI document also describes the bodies the routes read as raw bytes.

The CDS service, feedback and notification routes decode their bytes with msgspec models (the
typed edge), which FastAPI cannot see; their JSON Schemas come from those same models, so the
document (and schemathesis, which fuzzes the app from it) matches what is really decoded.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI

from cds_app.hooks.requests import FeedbackRequest, HookRequest
from fhir_adapter.resources import Bundle, Observation

PREFIX = "Wire"
_RESOURCES = {"Bundle": Bundle, "Observation": Observation}


def _components() -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    refs, components = msgspec.json.schema_components(
        [HookRequest, FeedbackRequest, *_RESOURCES.values()],
        ref_template=f"#/components/schemas/{PREFIX}{{name}}",
    )
    for name in _RESOURCES:  # FHIR resources carry their type (checked before decoding)
        schema = components[name]
        schema["properties"] = {**schema["properties"], "resourceType": {"const": name}}
        schema["required"] = sorted({"resourceType", *schema.get("required", [])})
    return refs, {f"{PREFIX}{name}": schema for name, schema in components.items()}


#: ``/fhir/notifications/{rest}``: where an R4 server PUTs a resource (``Observation/<id>``).
_REST = {"name": "rest", "in": "path", "required": True, "schema": {"type": "string"}}


def _body(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"required": True, "content": {media: {"schema": schema}}}


def install_openapi(app: FastAPI) -> None:
    """Wrap ``app.openapi`` to add the request bodies of the typed edge."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        (hook, feedback, bundle, observation), components = _components()
        document.setdefault("components", {}).setdefault("schemas", {}).update(components)
        paths = document.get("paths", {})
        bodies = {
            "/cds-services/{service_id}": _body(hook),
            "/cds-services/{service_id}/feedback": _body(feedback),
        }
        for path, operations in paths.items():
            if path.startswith("/fhir/notifications"):
                bodies[path] = _body({"oneOf": [bundle, observation]}, "application/fhir+json")
            body = bodies.get(path)
            for operation in operations.values() if "{rest}" in path else ():
                operation["parameters"] = [_REST, *operation.get("parameters", [])]
            for method in ("post", "put"):
                if body is not None and method in operations:
                    operations[method]["requestBody"] = body
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
