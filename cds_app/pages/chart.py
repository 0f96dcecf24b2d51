"""The 48 h trend as inline SVG (server-rendered; nothing fetched by the browser).

Three panels share one labelled time axis: the model's risk with its named card bands, the ROX
index with its published thresholds and SpO2/FiO2 with its thresholds (``model.bedside``).
Backfilled assessments (computed later from charted data) are drawn hollow on a dashed line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from model.comparators.rules import ROX_HIGH_RISK, ROX_LOW_RISK, SF_ALI_300, SF_ARDS_200
from model.schemas import BedsideReading, RiskPrediction

WIDTH = 720
LEFT, RIGHT = 56, 112  # the right margin holds the band and threshold names
RISK_H, INDEX_H, GAP, TOP, AXIS_H = 190, 96, 26, 22, 44
PLOT_W = WIDTH - LEFT - RIGHT
HEIGHT = TOP + RISK_H + 2 * (GAP + INDEX_H) + AXIS_H
BLUE, GREY, RED, AMBER = "#1f4e9e", "#6b7280", "#b3261e", "#a15c00"


@dataclass(frozen=True, slots=True)
class Band:
    """A shaded probability band (a card threshold), named on the chart."""

    low: float
    high: float
    colour: str
    label: str


@dataclass(frozen=True, slots=True)
class TrendData:
    """What the chart shows."""

    start: datetime
    end: datetime
    risk: Sequence[RiskPrediction]
    bedside: Sequence[tuple[datetime, BedsideReading]] = ()
    bands: Sequence[Band] = ()
    film_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Panel:
    top: float
    height: float
    low: float
    high: float

    def y(self, value: float) -> float:
        share = (min(max(value, self.low), self.high) - self.low) / (self.high - self.low)
        return self.top + self.height * (1.0 - share)


def _text(x: float, y: float, body: str, *, size: int = 11, anchor: str = "start",
          colour: str = "#444", extra: str = "") -> str:  # fmt: skip
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{colour}"{extra}>{escape(body)}</text>'
    )


def _frame(panel: _Panel, title: str, ticks: Sequence[float], fmt: Callable[[float], str]) -> str:
    parts = [
        _text(LEFT, panel.top - 7, title, size=12, colour="#1b1f24", extra=' font-weight="600"')
    ]
    for tick in ticks:
        y = panel.y(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e1e4e8"/>'
            + _text(LEFT - 6, y + 4, fmt(tick), anchor="end")
        )
    parts.append(
        f'<rect x="{LEFT}" y="{panel.top}" width="{PLOT_W}" height="{panel.height}" fill="none"'
        ' stroke="#c4c9d0"/>'
    )
    return "".join(parts)


def _threshold(panel: _Panel, value: float, label: str, colour: str, above: bool) -> str:
    """A dashed threshold line, named in the right margin just above or below it."""
    y = panel.y(value)
    return (
        f'<line class="threshold" x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{y:.1f}" y2="{y:.1f}" '
        f'stroke="{colour}" stroke-dasharray="5 3" stroke-width="1.2"/>'
        + _text(LEFT + PLOT_W + 6, y - 2 if above else y + 10, label, size=10, colour=colour)
    )


def _series(points: list[tuple[float, float]], ident: str, colour: str, dashed: bool) -> str:
    if not points:
        return ""
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    line = (
        f'<polyline id="{ident}" points="{path}" fill="none" stroke="{colour}" stroke-width="2.2"'
        f' stroke-linejoin="round"{dash}/>'
        if len(points) > 1
        else ""
    )
    fill = "#ffffff" if dashed else colour
    dots = "".join(
        f'<circle class="{ident}-point" cx="{x:.1f}" cy="{y:.1f}" r="3.2" fill="{fill}" '
        f'stroke="{colour}" stroke-width="1.5"/>'
        for x, y in points
    )
    return line + dots


def trend_chart_svg(data: TrendData) -> str:
    """The three panels over ``[start, end]`` with a shared time axis."""
    span = max((data.end - data.start).total_seconds(), 1.0)

    def x(t: datetime) -> float:
        return LEFT + PLOT_W * (t - data.start).total_seconds() / span

    risk = _Panel(TOP, RISK_H, 0.0, 1.0)
    rox = _Panel(TOP + RISK_H + GAP, INDEX_H, 0.0, 20.0)
    sf = _Panel(rox.top + INDEX_H + GAP, INDEX_H, 0.0, 500.0)
    parts = [
        f'<svg id="risk-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="48 h trend of the risk, ROX '
        'index and SpO2/FiO2">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for band in data.bands:
        top, bottom = risk.y(band.high), risk.y(band.low)
        parts.append(
            f'<rect class="band" x="{LEFT}" y="{top:.1f}" width="{PLOT_W}" '
            f'height="{bottom - top:.1f}" fill="{band.colour}" opacity="0.35">'
            f"<title>{escape(band.label)}</title></rect>"
            + _text(LEFT + PLOT_W + 6, (top + bottom) / 2 + 4, band.label, size=10)
        )
    parts.append(_frame(risk, "Risk of intubation within 24 h", (0, 0.25, 0.5, 0.75, 1.0),
                        lambda v: f"{round(v * 100)}%"))  # fmt: skip
    parts.append(_frame(rox, "ROX index", (0, 5, 10, 15, 20), lambda v: f"{v:.0f}"))
    parts.append(_threshold(rox, ROX_HIGH_RISK, f"< {ROX_HIGH_RISK} high risk", RED, False))
    parts.append(_threshold(rox, ROX_LOW_RISK, f"≥ {ROX_LOW_RISK} low risk", GREY, True))
    parts.append(_frame(sf, "SpO2/FiO2", (0, 100, 200, 300, 400, 500), lambda v: f"{v:.0f}"))
    parts.append(_threshold(sf, SF_ARDS_200, f"< {SF_ARDS_200:.0f} (P/F 200)", RED, False))
    parts.append(_threshold(sf, SF_ALI_300, f"< {SF_ALI_300:.0f} (P/F 300)", AMBER, True))
    bottom = sf.top + INDEX_H
    hours = int(span // 3600)
    for h in range(0, hours + 1, 6):
        t = data.start + timedelta(hours=h)
        tx = x(t)
        parts.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{TOP}" y2="{bottom + 4}" stroke="#eef0f3"/>'
        )
        if h % 12 == 0:
            parts.append(_text(tx, bottom + 17, t.strftime("%d %b %H:%M"), anchor="middle"))
    parts.append(_text(LEFT + PLOT_W / 2, bottom + 36, "Time (UTC), last 48 h", anchor="middle",
                       colour="#1b1f24"))  # fmt: skip
    if data.film_at is not None and data.start <= data.film_at <= data.end:
        fx = x(data.film_at)
        parts.append(
            f'<line id="film-marker" x1="{fx:.1f}" x2="{fx:.1f}" y1="{TOP}" y2="{bottom}" '
            f'stroke="{GREY}" stroke-dasharray="4 3" stroke-width="1.5"><title>chest film</title>'
            "</line>" + _text(fx + 4, TOP + RISK_H - 6, "film", colour=GREY)
        )
    shown = [p for p in data.risk if data.start <= p.as_of <= data.end]
    current = [(x(p.as_of), risk.y(p.probability)) for p in shown if not p.backfilled]
    filled = [(x(p.as_of), risk.y(p.probability)) for p in shown if p.backfilled]
    parts.append(_series(filled, "backfilled-line", BLUE, dashed=True))
    parts.append(_series(current, "risk-line", BLUE, dashed=False))
    readings = [(t, r) for t, r in data.bedside if data.start <= t <= data.end]
    rox_points = [(x(t), rox.y(r.rox)) for t, r in readings if r.rox is not None]
    sf_points = [(x(t), sf.y(r.sf_ratio)) for t, r in readings if r.sf_ratio is not None]
    parts.append(_series(rox_points, "rox-line", "#0f766e", dashed=False))
    parts.append(_series(sf_points, "sf-line", "#7c3aed", dashed=False))
    if filled:
        legend_x = LEFT + PLOT_W - 190
        parts.append(
            f'<circle cx="{legend_x}" cy="{TOP - 11}" r="3.2" fill="#fff" stroke="{BLUE}"/>'
            + _text(legend_x + 8, TOP - 7, "backfilled hourly from charted data", size=10)
        )
    parts.append("</svg>")
    return "".join(parts)
