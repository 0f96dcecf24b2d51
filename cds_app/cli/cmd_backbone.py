"""`ventfusion check-backbone` and `ventfusion embed-films`: a site's own film backbone.

`check-backbone MANIFEST` loads it as the app would (sha256, runtime, output width) and times it;
`embed-films --cohort DIR --backbone MANIFEST` embeds a cohort's films for `ventfusion train`.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cds_app.cli.common import load_settings

if TYPE_CHECKING:
    from model.backbone.runtime import Backbone


def _load(manifest: Path, threads: int) -> Backbone:
    from model.backbone import BackboneError
    from model.backbone.runtime import Backbone

    try:
        return Backbone.load(manifest, threads=threads)
    except BackboneError as exc:
        typer.secho(f"backbone not usable: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


def default_out(cohort: Path, backbone: Backbone) -> Path:
    """``<cohort>-<name>-<version>`` beside the cohort."""
    ident = backbone.identity
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{ident.name}-{ident.version}")
    return cohort.with_name(f"{cohort.name}-{slug}")


def register(app: typer.Typer) -> None:
    @app.command("check-backbone")
    def check_backbone(
        manifest: Annotated[Path, typer.Argument(help="The backbone's manifest (JSON).")],
        film: Annotated[
            Path | None, typer.Option(help="Also embed this PNG/JPEG film and print its summary.")
        ] = None,
        batch_size: Annotated[int, typer.Option(help="Films per batch for the timing.")] = 8,
        threads: Annotated[int, typer.Option(help="Runtime threads (0 = the runtime's).")] = 1,
    ) -> None:
        """Load a backbone as the app will (sha256, runtime, output width), embed test films
        twice (same vectors?) and time batch 1 and batched."""
        import numpy as np
        import torch

        from model.cohort import CohortFilm
        from model.features.films import FilmLoadError, load_display_image

        load_settings()
        if threads:
            torch.set_num_threads(threads)
        backbone = _load(manifest, threads)
        ident, spec = backbone.identity, backbone.manifest
        size = backbone.input_size
        typer.echo(f"{ident.label}: sha256 {ident.sha256} verified, recipe {ident.recipe}")
        typer.echo(
            f"runtime {spec.runtime_name}; input {size} px x {spec.input.channels} channel(s); "
            f"{backbone.output_dim}-d output; preprocessing {spec.preprocessing}"
        )
        typer.echo(f"licence: {spec.licence or '(not stated in the manifest)'}")
        rng = np.random.default_rng(0)
        films = rng.uniform(0.0, 1.0, (batch_size, 1, size, size)).astype(np.float32)
        first, second = backbone.embed(films[:1]), backbone.embed(films[:1])
        spread = float(np.abs(first - second).max())
        typer.echo(f"same film twice: largest difference {spread:.2e}")
        started = time.perf_counter()
        backbone.embed(films[:1])
        one = time.perf_counter() - started
        started = time.perf_counter()
        backbone.embed(films, batch_size=batch_size)
        batched = (time.perf_counter() - started) / batch_size
        typer.echo(
            f"{1 / one:.1f} films/s at batch 1, {1 / batched:.1f} films/s at batch {batch_size} "
            "(this machine, now)"
        )
        if film is not None:
            record = CohortFilm("", datetime.now(UTC), str(film.resolve()), film.name)
            try:
                image = load_display_image(Path("/"), record)
                vector = backbone.embed(backbone.prepare(image)[None])
            except FilmLoadError as exc:
                typer.secho(str(exc), err=True, fg=typer.colors.RED)
                raise typer.Exit(1) from exc
            typer.echo(
                f"{film.name}: mean {vector.mean():.4f}, sd {vector.std():.4f}, "
                f"range {vector.min():.4f} to {vector.max():.4f}"
            )

    @app.command("embed-films")
    def embed_films(
        cohort: Annotated[Path, typer.Option(help="Cohort directory (docs/cohort-format.md).")],
        backbone: Annotated[Path, typer.Option(help="The backbone's manifest (JSON).")],
        out: Annotated[
            Path | None,
            typer.Option(help="Cohort to write (default: <cohort>-<backbone name>-<version>)."),
        ] = None,
        batch_size: Annotated[int, typer.Option(help="Films per backbone call.")] = 16,
        threads: Annotated[int, typer.Option(help="Runtime threads (0 = the runtime's).")] = 0,
    ) -> None:
        """Embed every film of a cohort once with a film backbone into a cohort that
        `ventfusion train` reads as embeddings; rerun the same command to resume."""
        import torch
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        from model import ModelError
        from model.backbone.cohort import embed_cohort

        load_settings()
        if threads:
            torch.set_num_threads(threads)
        loaded = _load(backbone, threads)
        target = out or default_out(cohort, loaded)
        columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())  # fmt: skip
        try:
            with Progress(*columns, transient=False) as bar:
                task = bar.add_task(f"embedding films ({loaded.identity.label})", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report = embed_cohort(
                    cohort, loaded, target, batch_size=batch_size, progress=progress
                )
        except KeyboardInterrupt:
            typer.secho(
                "interrupted: what was embedded is kept; run the same command again to resume",
                err=True,
            )
            raise typer.Exit(130) from None
        except ModelError as exc:
            typer.secho(f"embed-films failed: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from exc
        typer.echo(
            f"{report.films} films: {report.embedded} embedded, {report.cached} from the cache, "
            f"{len(report.failed)} not readable; cohort written to {report.out}"
        )
        for uid, reason in report.failed[:12]:
            typer.echo(f"  not embedded: {uid}: {reason}", err=True)
        typer.echo(f"next: ventfusion train --cohort {report.out} --cxr-encoder embedding --out …")
