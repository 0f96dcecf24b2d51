"""A/B of the typed FHIR edge's decoder: msgspec (what the app uses) vs pydantic, in one run.

The pydantic models are built from the msgspec Structs of ``fhir_adapter.resources`` and
``cds_app.hooks.requests`` field by field (same names, types, patterns), so both sides validate
the same schema the same way: the request, then each prefetch Bundle, then each Observation on
its own, then the one mapping to measurements. Rounds alternate A and B; medians and the ratio
are reported. Run through ``bench/bench_hooks.py --decoders N``.
"""

from __future__ import annotations

import statistics
import time
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
import pydantic

from cds_app.hooks.patient_data import _prefetch_observations
from cds_app.hooks.requests import HookRequest, decode_hook_request
from fhir_adapter.codes import CodeTable
from fhir_adapter.observation_mapping import map_observation
from fhir_adapter.resources import Bundle, Observation, Rejected
from model.schemas import PatientKey

KEY = PatientKey(system="urn:bench", value="MRN")
_twins: dict[type, type[pydantic.BaseModel]] = {}


def _convert(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if hint is msgspec.Raw:
        return Any
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return twin(hint)
    if origin is Annotated:
        base, *extras = typing.get_args(hint)
        meta = [m for m in extras if isinstance(m, msgspec.Meta)]
        constraints = [pydantic.StringConstraints(pattern=m.pattern, max_length=m.max_length,
                                                  min_length=m.min_length) for m in meta
                       if base is str]  # fmt: skip
        return Annotated[(_convert(base), *constraints)] if constraints else _convert(base)
    if origin in (types.UnionType, typing.Union):
        args = tuple(_convert(a) for a in typing.get_args(hint))
        return typing.Union[args]  # noqa: UP007
    if origin is list:
        return list[_convert(typing.get_args(hint)[0])]  # type: ignore[misc]
    if origin is dict:
        key, value = typing.get_args(hint)
        return dict[_convert(key), _convert(value)]  # type: ignore[misc]
    return hint


def twin(struct: type[msgspec.Struct]) -> type[pydantic.BaseModel]:
    """The pydantic model with the fields, types and constraints of ``struct``."""
    if struct in _twins:
        return _twins[struct]
    hints = typing.get_type_hints(struct, include_extras=True)
    given = struct.__struct_defaults__  # the defaults of the last fields, in order
    with_default = struct.__struct_fields__[len(struct.__struct_fields__) - len(given) :]
    defaults = dict(zip(with_default, given, strict=True))
    fields: dict[str, Any] = {}
    for name in struct.__struct_fields__:
        default = defaults.get(name, ...)
        if type(default).__name__ == "Factory":  # msgspec's default_factory ([] and Raw())
            made = default.factory()
            default = (
                None
                if isinstance(made, msgspec.Raw)
                else pydantic.Field(default_factory=default.factory)
            )
        fields[name] = (_convert(hints[name]), default)
    config = pydantic.ConfigDict(strict=True, frozen=True, extra="ignore")
    model = pydantic.create_model(f"P{struct.__name__}", __config__=config, **fields)
    _twins[struct] = model
    model.model_rebuild()
    return model


def _msgspec_path(body: bytes) -> int:
    request = decode_hook_request(body)
    count = 0
    for name in ("vitals", "labs"):
        for obs in _prefetch_observations(request.prefetch or {}, name) or ():
            if not isinstance(obs, Rejected):
                count += len(map_observation(obs, KEY, CodeTable()).measurements)
    return count


def _pydantic_path(body: bytes) -> int:
    request = twin(HookRequest).model_validate_json(body)
    count = 0
    for name in ("vitals", "labs"):
        bundle = twin(Bundle).model_validate(request.prefetch[name])  # type: ignore[attr-defined]
        for entry in bundle.entry:  # type: ignore[attr-defined]
            try:
                obs = twin(Observation).model_validate(entry.resource)
            except pydantic.ValidationError:
                continue
            count += len(map_observation(obs, KEY, CodeTable()).measurements)  # type: ignore[arg-type]
    return count


def run(bodies: list[bytes], rounds: int) -> dict[str, float]:
    """Median microseconds per request for each decoder, A/B alternated, and the ratio."""
    paths: dict[str, Callable[[bytes], int]] = {
        "pydantic": _pydantic_path,
        "msgspec": _msgspec_path,
    }
    counts = {name: path(bodies[0]) for name, path in paths.items()}
    if len(set(counts.values())) != 1:
        raise SystemExit(f"the decoders disagree: {counts}")
    timings: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, path in paths.items():
            started = time.perf_counter()
            for body in bodies:
                path(body)
            timings[name].append((time.perf_counter() - started) / len(bodies) * 1e6)
    result = {f"{name}_us": statistics.median(t) for name, t in timings.items()}
    result["ratio_pydantic_over_msgspec"] = result["pydantic_us"] / result["msgspec_us"]
    result["measurements"] = float(counts["msgspec"])
    return result
