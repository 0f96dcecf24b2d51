"""The compute gate admits ``slots`` threads, is reentrant, and is stepped out of for waits."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from cds_app.hooks.compute_gate import OPEN_GATE, ComputeGate, default_slots
from cds_app.hooks.mapping_cache import ObservationMappingCache
from cds_app.hooks.patient_data import gather_patient_data
from cds_app.hooks.requests import decode_hook_request
from fhir_adapter.codes import CodeTable
from tests.support.ehr import MRN_SYSTEM, hook_request, patient, searchset


def _enters_within(gate: ComputeGate, timeout_s: float) -> bool:
    """Whether another thread gets into ``gate`` within ``timeout_s`` (it leaves at once)."""
    entered = threading.Event()

    def enter() -> None:
        with gate:
            entered.set()

    thread = threading.Thread(target=enter, daemon=True)
    thread.start()
    got_in = entered.wait(timeout_s)
    thread.join(10)
    return got_in


def test_one_slot_admits_one_thread_at_a_time() -> None:
    gate = ComputeGate(1)
    with gate:
        blocked = threading.Event()
        done: list[float] = []

        def second() -> None:
            blocked.set()
            with gate:
                done.append(time.monotonic())

        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        blocked.wait(5)
        time.sleep(0.05)
        assert done == []  # still waiting
        left_at = time.monotonic()
    thread.join(5)
    assert done
    assert done[0] >= left_at


def test_two_slots_admit_two() -> None:
    gate = ComputeGate(2)
    with gate:
        assert _enters_within(gate, 5)


def test_nested_sections_of_one_thread_do_not_wait_for_themselves() -> None:
    gate = ComputeGate(1)
    with gate, gate:
        pass
    assert _enters_within(gate, 5)  # released once the outer section ends


def test_a_thread_steps_out_while_it_waits_and_back_in_after() -> None:
    gate = ComputeGate(1)
    with gate:
        with gate.released():
            assert _enters_within(gate, 5)
        assert not _enters_within(gate, 0.1)  # back in: the slot is ours again
    with gate.released():  # not in the gate: nothing to step out of
        pass
    assert _enters_within(gate, 5)


def test_an_error_inside_frees_the_slot() -> None:
    gate = ComputeGate(1)
    with pytest.raises(ValueError), gate:
        raise ValueError("boom")
    assert _enters_within(gate, 5)


def test_open_gate_and_defaults() -> None:
    with OPEN_GATE:
        assert _enters_within(OPEN_GATE, 5)
    assert default_slots() >= 1


def test_the_fhir_server_is_asked_outside_the_gate() -> None:
    """A slow EHR does not hold the slot: while its FHIR server is asked, another call computes."""
    gate = ComputeGate(1)
    others_got_in: list[bool] = []

    def fhir(request: httpx.Request) -> httpx.Response:
        others_got_in.append(_enters_within(gate, 5))
        if request.url.path.endswith("/Patient/pt-1"):
            return httpx.Response(200, json=patient("pt-1", "MRN-1"))
        return httpx.Response(200, json=searchset([]))

    body = hook_request("pt-1", fhir_server="https://ehr.example.org/fhir", access_token="t")
    with gate:
        data = gather_patient_data(
            decode_hook_request(orjson.dumps(body)),
            as_of=datetime.now(UTC),
            lookback_h=48,
            mrn_system=MRN_SYSTEM,
            mapper=ObservationMappingCache(CodeTable()),
            fhir_budget_s=10.0,
            transport=httpx.MockTransport(fhir),
            gate=gate,
        )
        assert not _enters_within(gate, 0.1)  # back in the gate after the reads
    assert data.used_fhir_server
    assert others_got_in == [True, True, True]  # the Patient, vitals and labs
