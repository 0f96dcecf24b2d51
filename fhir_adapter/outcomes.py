"""Read ventilation outcomes back from the EHR so past predictions can be scored prospectively."""

from __future__ import annotations

from fhir_adapter.client import FhirClient
from fhir_adapter.procedure_mapping import VentilationCodes, VentilationEvent, ventilation_event
from fhir_adapter.resources import Procedure, Rejected


async def ventilation_starts(
    client: FhirClient, patient_ref: str, codes: VentilationCodes | None = None
) -> list[VentilationEvent]:
    """Ventilation Procedures of ``Patient/<id>``, earliest first."""
    table = codes or VentilationCodes()
    params = {"patient": patient_ref.partition("/")[2], "code": table.tokens(), "_count": "100"}
    events = [
        event
        async for procedure in client.search(Procedure, params)
        if not isinstance(procedure, Rejected)
        and (event := ventilation_event(procedure, table)) is not None
    ]
    return sorted(events, key=lambda e: e.start)
