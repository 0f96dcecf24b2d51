"""The stand-alone outbox worker process (`ventfusion worker`)."""

from __future__ import annotations

import asyncio
import logging
import signal

from cds_app.db.outbox import DbOutbox
from cds_app.db.session import make_engine, migrate
from cds_app.engine.outbox_worker import run_outbox_loop
from cds_app.fhir_wiring import build_outbox_drain, fhir_client
from cds_app.security.pseudonym_key import build_pseudonymiser
from cds_app.settings import Settings
from fhir_adapter.identity import PatientResolver

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Drain the outbox until SIGTERM/SIGINT (or ``stop``)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            break
    engine = make_engine(settings.database_url)
    await asyncio.to_thread(migrate, engine)
    client = fhir_client(settings)
    resolver = PatientResolver(
        client, settings.mrn_system, pseudonymise=build_pseudonymiser(settings)
    )
    drain = build_outbox_drain(settings, DbOutbox(engine), client, resolver)

    log.info("outbox worker started")
    try:
        await run_outbox_loop(drain, stop, poll_s=settings.worker.poll_s)
    finally:
        await client.aclose()
        engine.dispose()
