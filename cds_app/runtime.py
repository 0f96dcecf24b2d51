"""Start-up pieces of the lifespan: the model, the DICOM listener, FHIR ingest, outbox worker."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cds_app.engine.outbox_worker import run_outbox_loop
from cds_app.settings import Settings
from model.ports import RiskModel

if TYPE_CHECKING:
    from cds_app.context import AppContext
    from dicom_listener.server import RunningListener

log = logging.getLogger(__name__)


def load_model(settings: Settings) -> RiskModel:
    """The checkpoint of ``settings.model.checkpoint`` (None: the bundled model), with the film
    backbone of ``settings.model.backbone`` when one is configured (its sha256 is checked and it
    must be the backbone the checkpoint was trained with; a checkpoint trained on a backbone is
    refused without one)."""
    import torch

    from model.predictor import Predictor

    if settings.model.torch_threads:
        torch.set_num_threads(settings.model.torch_threads)
    backbone = None
    if settings.model.backbone is not None:
        from model.backbone.runtime import Backbone

        backbone = Backbone.load(settings.model.backbone, threads=settings.model.torch_threads)
    predictor = Predictor.load(settings.model.checkpoint, backbone=backbone)
    if predictor.backbone is not None and backbone is None:
        from model import ModelError

        raise ModelError(
            f"{predictor.model_id} {predictor.model_version} reads embeddings of the film backbone "
            f"{predictor.backbone.label}: set VENTFUSION_MODEL__BACKBONE to its manifest"
        )
    return predictor


def model_card_markdown(model: RiskModel) -> str:
    """The model card of a loaded model, when it carries one."""
    card: Any = getattr(model, "card", None)
    if card is None:
        return ""
    to_markdown = getattr(card, "to_markdown", None)
    return str(to_markdown()) if callable(to_markdown) else str(card)


@dataclass(frozen=True, slots=True)
class RunningComponents:
    """What ``start_components`` started (``app.state.running``)."""

    dicom_listener: RunningListener | None = None


async def start_components(ctx: AppContext, stack: AsyncExitStack) -> RunningComponents:
    """Start what ``ctx.settings`` enables; ``stack`` stops it again in reverse order."""
    settings = ctx.settings
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def _stop_tasks() -> None:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    if ctx.fhir is not None:
        stack.push_async_callback(ctx.fhir.client.aclose)  # after the tasks using it stopped
    stack.push_async_callback(_stop_tasks)
    tasks.append(asyncio.create_task(_purge_replay_cache(ctx, stop)))
    if ctx.fhir is not None and ctx.fhir.outbox_drain is not None:
        loop = run_outbox_loop(ctx.fhir.outbox_drain, stop, poll_s=settings.worker.poll_s)
        tasks.append(asyncio.create_task(loop))
    listener = None
    if settings.dicom.enabled:
        from cds_app.dicom_wiring import start_dicom

        listener = await asyncio.to_thread(start_dicom, ctx)
        stack.callback(listener.stop)
    return RunningComponents(dicom_listener=listener)


async def _purge_replay_cache(ctx: AppContext, stop: asyncio.Event) -> None:
    from cds_app.db.hook_responses import HookResponses
    from cds_app.db.security import DbReplayCache

    cache, answers = DbReplayCache(ctx.db), HookResponses(ctx.db)
    while not stop.is_set():
        try:
            await asyncio.to_thread(cache.purge)
            await asyncio.to_thread(answers.purge)
        except Exception:
            log.exception("purging the jti replay cache or old hook answers failed")
        try:
            await asyncio.wait_for(stop.wait(), 600)
        except TimeoutError:
            continue
