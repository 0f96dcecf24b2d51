"""Explanations for cards: per-variable drivers (occlusion) in clinical wording."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from model.schemas import Driver
from model.variables import BY_NAME

#: Trend look-back used in the wording ("FiO2 up to 60% over 6 h").
TREND_H = 6.0
_DECIMALS = {"ph": 2, "temperature": 1, "lactate": 1, "creatinine": 1, "o2_flow": 1, "wbc": 1}


@dataclass(frozen=True, slots=True)
class Series:
    """The observations of one variable inside the window, oldest first (hours before as_of)."""

    variable: str
    hours_before: tuple[float, ...]
    values: tuple[float, ...]


def format_value(variable: str, value: float) -> str:
    """``60%``, ``32/min``, ``3.1 mmol/L``, ``7.28`` — the value in its display unit."""
    spec = BY_NAME[variable]
    text = f"{value:.{_DECIMALS.get(variable, 0)}f}"
    unit = spec.display_unit
    if not unit:
        return text
    if unit in ("%", "/min") or unit.startswith("°"):
        return f"{text}{unit}"
    return f"{text} {unit}"


def describe(series: Series, std: float) -> str:
    """Clinical wording of a variable's recent course: a trend when it moved, else its value."""
    label = BY_NAME[series.variable].label
    latest = series.values[-1]
    now_h = series.hours_before[-1]
    earlier = [
        (h, v)
        for h, v in zip(series.hours_before, series.values, strict=True)
        if h - now_h >= TREND_H - 0.5
    ]
    if earlier and abs(latest - earlier[-1][1]) >= 0.5 * std:
        span = earlier[-1][0] - now_h
        direction = "up to" if latest > earlier[-1][1] else "down to"
        return f"{label} {direction} {format_value(series.variable, latest)} over {span:.0f} h"
    return f"{label} {format_value(series.variable, latest)}"


def drivers_from_occlusion(
    variables: Sequence[str],
    base_probability: float,
    occluded_probability: Sequence[float],
    series: Mapping[str, Series],
    stds: Mapping[str, float],
    top: int = 5,
) -> tuple[Driver, ...]:
    """Drivers = probability change when a variable is removed from the window (occlusion).

    ``variables[i]`` was occluded to get ``occluded_probability[i]``; the ``top`` largest absolute
    contributions are returned, largest first.
    """
    drivers = [
        Driver(
            variable=name,
            contribution=float(np.clip(base_probability - p_without, -1.0, 1.0)),
            description=describe(series[name], stds.get(name, 1.0)),
        )
        for name, p_without in zip(variables, occluded_probability, strict=True)
        if name in series
    ]
    drivers.sort(key=lambda d: -abs(d.contribution))
    return tuple(drivers[:top])
