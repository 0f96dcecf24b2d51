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

log = logging.getLogger(__name__)


async def _serve_with_database(settings: Settings) -> None:
    """The app's composition (store, model, rescoring) with only the listener started."""
    from cds_app.app import build_context
    from cds_app.dicom_wiring import start_dicom
    from cds_app.runtime import load_model

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    model = await asyncio.to_thread(load_model, settings)
    ctx = await asyncio.to_thread(build_context, settings, model, loop)
    listener = await asyncio.to_thread(start_dicom, ctx)  # PostgreSQL: claims shared by replicas
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
        if port is not None:
            dicom = settings.dicom.model_copy(update={"port": port})
            settings = settings.model_copy(update={"dicom": dicom})
        if out is None:
            asyncio.run(_serve_with_database(settings))
            return
        from cds_app.dicom_wiring import listener_config

        config = listener_config(settings)
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
        from cds_app.security.pseudonym_key import build_pseudonymiser

        serve_until_signalled(
            config, processor, DirectoryFilmSink(out), pseudonymise=build_pseudonymiser(settings)
        )
