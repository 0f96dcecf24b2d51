"""`ventfusion dicom-listen`: the DICOM C-STORE listener as its own process.

By default films go to the application database (the same store and rescoring as ``serve``);
``--out DIR`` writes them to a directory instead (no database; see docs/dicom.md).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from cds_app.cli.common import load_settings
from cds_app.settings import Settings
from dicom_listener.config import ListenerConfig

log = logging.getLogger(__name__)


def listener_config(settings: Settings, *, port: int | None = None) -> ListenerConfig:
    """Every listener setting of ``settings`` (``port`` overrides; 0 = any free port)."""
    dicom = settings.dicom
    fields = dicom.listener_fields()
    fields.update(
        port=dicom.port if port is None else port,
        spool_dir=dicom.spool_dir or settings.data_dir / "spool",
        timezone=settings.timezone,
        default_patient_system=settings.patient_id_system,
    )
    return ListenerConfig.model_validate(fields)


async def _serve_with_database(settings: Settings, config: ListenerConfig) -> None:
    from cds_app.app import build_context
    from cds_app.runtime import load_model
    from dicom_listener.processing import ModelFilmProcessor
    from dicom_listener.server import start_listener

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    model = await asyncio.to_thread(load_model, settings)
    ctx = await asyncio.to_thread(build_context, settings, model, loop)
    listener = await asyncio.to_thread(
        start_listener, config, ModelFilmProcessor(model), ctx.film_sink
    )
    try:
        await stop.wait()
    finally:
        await asyncio.to_thread(listener.stop)
        await ctx.rescorer.drain()
        ctx.db.dispose()


def register(app: typer.Typer) -> None:
    @app.command("dicom-listen")
    def dicom_listen(
        port: Annotated[
            int | None, typer.Option(help="Port (default VENTFUSION_DICOM__PORT).")
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(help="Write processed films to this directory instead of the database."),
        ] = None,
        no_model: Annotated[
            bool,
            typer.Option("--no-model", help="With --out: preprocess only, no embedding."),
        ] = False,
        film_size: Annotated[int, typer.Option(help="With --no-model: film side.")] = 64,
    ) -> None:
        """Run the DICOM C-STORE listener (chest films) until SIGTERM/SIGINT."""
        settings = load_settings()
        config = listener_config(settings, port=port)
        if out is None:
            asyncio.run(_serve_with_database(settings, config))
            return
        from dicom_listener.app import serve_until_signalled
        from dicom_listener.directory_sink import DirectoryFilmSink
        from dicom_listener.processing import (
            FilmProcessor,
            ModelFilmProcessor,
            PixelsOnlyProcessor,
        )

        processor: FilmProcessor
        if no_model:
            processor = PixelsOnlyProcessor(film_size)
        else:
            from cds_app.runtime import load_model

            processor = ModelFilmProcessor(load_model(settings))
        serve_until_signalled(config, processor, DirectoryFilmSink(out))
