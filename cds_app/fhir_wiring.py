"""FHIR ingest (notification processor) and the outbox worker, wired on the app's stores."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from cds_app.db.fhir_state import DbCursorStore, DbEventNumberStore, DbSeenStore
from fhir_adapter.auth import build_auth
from fhir_adapter.client import FhirClient
from fhir_adapter.codes import load_code_table
from fhir_adapter.service import build_ingest
from fhir_adapter.writer import RiskAssessmentWriter, drain_outbox

if TYPE_CHECKING:
    from cds_app.context import AppContext
    from cds_app.settings import Settings

OutboxLoop = Callable[..., Coroutine[Any, Any, None]]


def fhir_client(settings: Settings) -> FhirClient:
    """The client of the EHR's FHIR server configured in ``settings.fhir``."""
    fhir = settings.fhir
    key = fhir.smart_private_key.read_bytes() if fhir.smart_private_key else b""
    auth = build_auth(
        fhir.auth,
        bearer_token=fhir.bearer_token,
        client_id=fhir.smart_client_id,
        token_url=fhir.smart_token_url,
        private_key_pem=key,
        key_id=fhir.smart_key_id,
        algorithm=fhir.smart_algorithm,
        scope=fhir.smart_scope,
    )
    return FhirClient(fhir.base_url, auth=auth, timeout_s=fhir.timeout_s)


async def start_fhir(
    ctx: AppContext,
    stack: AsyncExitStack,
    stop: asyncio.Event,
    tasks: list[asyncio.Task[None]],
    outbox_loop: OutboxLoop,
) -> None:
    """Build ``ctx.fhir_processor`` and, when enabled, run the outbox worker as a task."""
    settings = ctx.settings
    client = fhir_client(settings)
    stack.push_async_callback(client.aclose)
    services = build_ingest(
        client,
        ctx.measurement_sink,
        mrn_system=settings.fhir.mrn_system or settings.patient_id_system,
        seen=DbSeenStore(ctx.db),
        cursors=DbCursorStore(ctx.db),
        codes=load_code_table(settings.fhir.local_codes_file),
        lookback_h=settings.model.lookback_h,
        patients=ctx.store,
        events=DbEventNumberStore(ctx.db),
        pseudonymise=ctx.pseudonymise,
    )
    ctx.fhir_processor = services.processor
    if settings.fhir.write_back and settings.worker.enabled:
        writer = RiskAssessmentWriter(
            client, services.resolver, write_provenance=settings.fhir.write_provenance
        )

        async def drain() -> int:
            report = await drain_outbox(ctx.outbox, writer, limit=settings.worker.batch)
            return report.delivered + report.retried + report.failed

        tasks.append(asyncio.create_task(outbox_loop(drain, stop, poll_s=settings.worker.poll_s)))
