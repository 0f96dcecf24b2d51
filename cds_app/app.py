"""FastAPI application factory. Everything stateful is built in the lifespan, never at import."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cds_app.api import health
from cds_app.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the app for one process; ``settings`` is the process's one settings object."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        # Heavy imports (torch, FastAPI) leave many objects: freeze them out of the collector so
        # full collections do not show up as request tail latency (performance-notes.md).
        gc.collect()
        gc.freeze()
        yield

    app = FastAPI(
        title="VentFusion",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    return app
