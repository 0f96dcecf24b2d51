"""Property-based: every field of real resources mutated; the decoders reject, never crash.

Starting points are the project's own fixtures and, when ``../shared/reference`` is present,
the HL7 FHIR R4 examples and Subscriptions Backport Bundles. Bounded in examples and time.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_adapter.codes import CodeTable
from fhir_adapter.errors import NotificationFormatError
from fhir_adapter.notification_parsing import parse_notification
from fhir_adapter.observation_mapping import map_observation
from fhir_adapter.patient_mapping import patient_key, static_info
from fhir_adapter.resources import Observation, Patient, Rejected, decode_resource
from model.schemas import PatientKey
from tests.conftest import REFERENCE_DIR
from tests.support.ehr import MRN_SYSTEM, patient
from tests.support.hostile import REPLACEMENTS, encode, json_paths, load_fixtures, mutate

FIXTURES = load_fixtures(REFERENCE_DIR if REFERENCE_DIR.is_dir() else None)
KEY = PatientKey(system=MRN_SYSTEM, value="MRN-FZ")
NOW = datetime.now(UTC)
BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, documents: list[object]) -> bytes:
    """A document with one field (any, at any depth) replaced by a hostile value."""
    doc = json.loads(json.dumps(draw(st.sampled_from(documents))))
    paths = list(json_paths(doc))
    path = draw(st.sampled_from(paths))
    value = draw(st.sampled_from(REPLACEMENTS) | json_values)
    if path:
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = value
    else:
        doc = value
    return encode(doc, random.Random(draw(st.integers(0, 2**16))))


@BOUNDED
@given(mutated(FIXTURES.observations))
def test_observations_decode_or_are_rejected_and_map_totally(body: bytes) -> None:
    found = decode_resource(body, Observation)
    if isinstance(found, Rejected):
        assert found.reason
        return
    mapping = map_observation(found, KEY, CodeTable())
    for m in mapping.measurements:  # every measurement is storable: bounded, UTC-expressible
        assert m.time.astimezone(UTC)
        assert m.source_id.isprintable()
        assert len(m.source_id) < 300


@BOUNDED
@given(mutated([patient("pt-fz", "MRN-FZ")]))
def test_patients_decode_or_are_rejected(body: bytes) -> None:
    found = decode_resource(body, Patient)
    if isinstance(found, Rejected):
        return
    key = patient_key(found, MRN_SYSTEM)
    assert key is None or ("\x00" not in key.value and len(key.value) <= 300)
    static_info(found, NOW)


@BOUNDED
@given(mutated(FIXTURES.notifications))
def test_notifications_parse_or_are_format_errors(body: bytes) -> None:
    try:
        hint = parse_notification(body, "application/fhir+json")
    except NotificationFormatError:
        return
    for ref in hint.focus_refs:
        assert ref.isascii()
        assert ref.isprintable()
        assert len(ref) < 200
    for event in hint.events:
        assert event.number is None or 0 <= event.number < 2**63


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_repeated_mutations_of_every_field(data: st.DataObject) -> None:
    """Several fields at once (the fuzz harness's own mutator)."""
    seed = data.draw(st.integers(0, 2**32))
    body = encode(mutate(FIXTURES.observations[0], random.Random(seed), 4), random.Random(seed))
    assert isinstance(decode_resource(body, Observation), Observation | Rejected)
