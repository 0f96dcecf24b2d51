"""The risk trend chart as inline SVG (server-rendered; nothing fetched by the browser)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from model.schemas import RiskPrediction

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 36


@dataclass(frozen=True, slots=True)
class Band:
    """A shaded probability band (a card threshold)."""

    low: float
    high: float
    colour: str
    label: str


def risk_chart_svg(
    history: list[RiskPrediction],
    start: datetime,
    end: datetime,
    bands: list[Band],
    film_at: datetime | None = None,
) -> str:
    """A line chart of probability (0-100 %) over ``[start, end]`` with threshold bands."""
    span = max((end - start).total_seconds(), 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: datetime) -> float:
        return LEFT + plot_w * (t - start).total_seconds() / span

    def y(p: float) -> float:
        return TOP + plot_h * (1 - p)

    parts = [
        f'<svg id="risk-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="Risk trend">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for band in bands:
        parts.append(
            f'<rect x="{LEFT}" y="{y(band.high):.1f}" width="{plot_w}"'
            f' height="{y(band.low) - y(band.high):.1f}" fill="{band.colour}" opacity="0.35">'
            f"<title>{escape(band.label)}</title></rect>"
        )
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"'
            ' stroke="#d0d4da" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end"'
            f' fill="#444">{round(tick * 100)}%</text>'
        )
    for i in range(5):
        t = start + (end - start) * (i / 4)
        anchor = "start" if i == 0 else ("end" if i == 4 else "middle")
        parts.append(
            f'<text x="{x(t):.1f}" y="{HEIGHT - 12}" font-size="11" text-anchor="{anchor}"'
            f' fill="#444">{t.strftime("%d %b %H:%M")}</text>'
        )
    if film_at is not None and start <= film_at <= end:
        parts.append(
            f'<line id="film-marker" x1="{x(film_at):.1f}" x2="{x(film_at):.1f}" y1="{TOP}"'
            f' y2="{TOP + plot_h}" stroke="#6b7280" stroke-dasharray="4 3" stroke-width="1.5">'
            "<title>chest film</title></line>"
            f'<text x="{x(film_at) + 4:.1f}" y="{TOP + 12}" font-size="11"'
            ' fill="#6b7280">film</text>'
        )
    points = [(x(p.as_of), y(p.probability)) for p in history if start <= p.as_of <= end]
    if len(points) > 1:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        parts.append(
            f'<polyline id="risk-line" points="{path}" fill="none" stroke="#1f4e9e"'
            ' stroke-width="3" stroke-linejoin="round"/>'
        )
    for px, py in points:
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="#1f4e9e"/>')
    parts.append("</svg>")
    return "".join(parts)
