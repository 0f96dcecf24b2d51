"""The applicability statistics a checkpoint carries (``Checkpoint.applicability``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model.applicability.ehr import EhrGuard
from model.applicability.film import FilmGuard


@dataclass(frozen=True, slots=True)
class ApplicabilityStats:
    """What the training data looked like (stored in the checkpoint under ``applicability``)."""

    ehr: EhrGuard
    film: FilmGuard | None  # None: the model reads no films, or it was trained without any

    def to_dict(self) -> dict[str, Any]:
        return {"ehr": self.ehr.to_dict(), "film": self.film.to_dict() if self.film else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApplicabilityStats:
        film = data.get("film")
        return cls(
            ehr=EhrGuard.from_dict(dict(data["ehr"])),
            film=FilmGuard.from_dict(dict(film)) if film else None,
        )
