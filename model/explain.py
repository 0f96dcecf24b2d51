"""Explanations for cards: group drivers (exact Shapley values, ``model.shapley``) in clinical
wording."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from model.schemas import Driver
from model.shapley import GROUP_LABELS, NORMAL_VALUES
from model.variables import BY_NAME

#: Trend look-back used in the wording ("FiO2 up to 60% over 6 h").
TREND_H = 6.0


@dataclass(frozen=True, slots=True)
class Series:
    """The observations of one variable inside the window, oldest first (hours before as_of)."""

    variable: str
    hours_before: tuple[float, ...]
    values: tuple[float, ...]


def format_value(variable: str, value: float) -> str:
    """``60%``, ``32/min``, ``3.1 mmol/L``, ``7.28`` — the value in its display unit."""
    spec = BY_NAME[variable]
    text = f"{value:.{spec.decimals}f}"
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


def group_description(label: str, members: Sequence[Series], stds: Mapping[str, float]) -> str:
    """'Oxygenation: SpO2 88%, FiO2 up to 60% over 6 h' - the members furthest from normal
    first (at most three)."""

    def distance(series: Series) -> float:
        normal = NORMAL_VALUES.get(series.variable)
        if normal is None:
            return 0.0
        return abs(series.values[-1] - normal) / max(stds.get(series.variable, 1.0), 1e-6)

    ordered = sorted(members, key=distance, reverse=True)[:3]
    return f"{label}: " + ", ".join(describe(s, stds.get(s.variable, 1.0)) for s in ordered)


def shapley_drivers(
    groups: Sequence[tuple[str, tuple[str, ...]]],
    contributions: Sequence[float],
    series: Mapping[str, Series],
    stds: Mapping[str, float],
) -> tuple[Driver, ...]:
    """One driver per group (its Shapley value), largest absolute contribution first."""
    drivers = [
        Driver(
            variable=group,
            contribution=float(value),
            description=group_description(
                GROUP_LABELS.get(group, BY_NAME[members[0]].label if members else group),
                [series[m] for m in members if m in series],
                stds,
            ),
        )
        for (group, members), value in zip(groups, contributions, strict=True)
    ]
    drivers.sort(key=lambda d: -abs(d.contribution))
    return tuple(drivers)
