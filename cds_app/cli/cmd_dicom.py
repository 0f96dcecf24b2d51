"""`ventfusion dicom-listen` (the DICOM C-STORE listener as its own process) and
`ventfusion dicom-quarantine` (list and release quarantined instances of the spool).

By default films go to the application database (the same store and rescoring as ``serve``);
``--out DIR`` writes them to a directory instead (no database; see docs/dicom.md).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cds_app.cli.common import load_settings
from cds_app.settings import Settings

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from dicom_listener.server import RunningListener

log = logging.getLogger(__name__)


def _serve_metrics(settings: Settings, registry: CollectorRegistry) -> Callable[[], None]:
    """A Prometheus endpoint for this listener process (``DICOM__METRICS_PORT``); its stopper."""
    from prometheus_client import start_http_server

    port = settings.dicom.metrics_port
    server, _thread = start_http_server(port, addr=settings.host, registry=registry)
    log.info("listener metrics on http://%s:%d/metrics", settings.host, port)
    return server.shutdown


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
    stop_metrics = (
        _serve_metrics(settings, ctx.metrics.registry) if settings.dicom.metrics_port else None
    )
    try:
        await stop.wait()
    finally:
        if stop_metrics is not None:
            stop_metrics()
        await asyncio.to_thread(listener.stop)
        await ctx.rescorer.drain()
        ctx.db.dispose()


def _serve_to_directory(settings: Settings, out: Path, no_model: bool, film_size: int) -> None:
    from cds_app.dicom_wiring import ListenerCollector, listener_config
    from dicom_listener.app import serve_until_signalled
    from dicom_listener.directory_sink import DirectoryFilmSink
    from dicom_listener.processing import FilmProcessor, ModelFilmProcessor, PixelsOnlyProcessor

    processor: FilmProcessor
    if no_model:
        processor = PixelsOnlyProcessor(film_size)
    else:
        from cds_app.runtime import load_model

        processor = ModelFilmProcessor(load_model(settings))

    def with_metrics(listener: RunningListener) -> None:
        if settings.dicom.metrics_port:
            from prometheus_client import CollectorRegistry

            registry = CollectorRegistry(auto_describe=True)
            registry.register(ListenerCollector(listener))
            _serve_metrics(settings, registry)

    from cds_app.security.pseudonym_key import build_pseudonymiser

    serve_until_signalled(
        listener_config(settings),
        processor,
        DirectoryFilmSink(out),
        pseudonymise=build_pseudonymiser(settings),
        on_started=with_metrics,
    )


def _spool_dir(spool: Path | None) -> Path:
    if spool is not None:
        return spool
    settings = load_settings()
    return settings.dicom.spool_dir or settings.data_dir / "spool"


quarantine_app = typer.Typer(
    help="Instances whose processing failed or crashed too often (<spool>/quarantine).",
    no_args_is_help=True,
)
SpoolOption = Annotated[
    Path | None, typer.Option("--spool", help="Spool directory (default: from the settings).")
]


@quarantine_app.command("list")
def quarantine_list(spool: SpoolOption = None) -> None:
    """List quarantined instances with their reason."""
    from dicom_listener.quarantine import Quarantine

    entries = Quarantine(_spool_dir(spool) / "quarantine").entries()
    for entry in entries:
        typer.echo(
            f"{entry.sop_instance_uid}\t{entry.since:%Y-%m-%d %H:%M:%S}Z\t{entry.size} bytes\t"
            f"{entry.reason}"
        )
    typer.echo(f"{len(entries)} quarantined instance(s)", err=True)


@quarantine_app.command("release")
def quarantine_release(
    uids: Annotated[list[str] | None, typer.Argument(help="SOP Instance UIDs.")] = None,
    release_all: Annotated[bool, typer.Option("--all", help="Release every instance.")] = False,
    spool: SpoolOption = None,
) -> None:
    """Move instances back to pending/: the listener processes them again (within
    DICOM__RESCAN_INTERVAL_S, or at its next start), with a fresh count of attempts."""
    from dicom_listener.spool import FileSpool

    files = FileSpool(_spool_dir(spool))
    wanted = [e.sop_instance_uid for e in files.quarantine.entries()] if release_all else uids
    if not wanted:
        typer.secho("name the SOP Instance UIDs to release, or --all", err=True)
        raise typer.Exit(2)
    missing = [uid for uid in wanted if not files.release(uid)]
    for uid in wanted:
        if uid not in missing:
            typer.echo(f"released {uid}")
    if missing:
        typer.secho(f"not in quarantine: {', '.join(missing)}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(quarantine_app, name="dicom-quarantine")

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
        from model import ModelError

        try:
            if out is None:
                asyncio.run(_serve_with_database(settings))
            else:
                _serve_to_directory(settings, out, no_model, film_size)
        except ModelError as exc:  # no checkpoint, or a film backbone that is not the model's
            typer.secho(f"cannot load the model: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from exc
