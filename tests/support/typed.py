"""Test fixtures are FHIR JSON objects; the adapter maps decoded resources: decode one."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_adapter.resources import Observation, R, Rejected, decode_resource


def typed(resource: dict[str, Any], model: type[R] = Observation) -> R:  # type: ignore[assignment]
    """``resource`` decoded as ``model`` (the test fails if it is rejected)."""
    found = decode_resource(orjson.dumps(resource), model)
    assert not isinstance(found, Rejected), found.reason
    return found


def decoded(resource: dict[str, Any], model: type[R] = Observation) -> R | Rejected:  # type: ignore[assignment]
    """``resource`` decoded as ``model``, or its rejection."""
    return decode_resource(orjson.dumps(resource), model)
