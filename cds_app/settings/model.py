"""Model settings section (``VENTFUSION_MODEL__*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class ModelSettings(BaseModel):
    checkpoint: Path | None = None  # default: the model bundled with the package
    # Manifest (JSON) of the site's film backbone, for a checkpoint trained on its embeddings
    # (docs/model.md, "Using your own foundation model"); its file's sha256 is checked at start.
    backbone: Path | None = None
    lookback_h: int = 48
    film_max_age_h: float = 72.0
    debounce_s: float = 2.0  # coalesce rescoring after bursts of new data
    # No score (a "not estimated" card instead) when no vital sign is this recent; 0: always score.
    require_vitals_within_h: float = Field(default=6.0, ge=0)
    # intra-op threads per inference; 1 keeps concurrent requests from oversubscribing the cores
    torch_threads: int = Field(default=1, ge=0)  # 0: torch's default
    # Silent evaluation: predictions recorded (RiskAssessments queued as preliminary), no cards.
    shadow_mode: bool = False
