"""Whether a window holds enough current data to be scored at all.

In an ICU, vital signs are charted at least hourly. A window whose latest vital sign is hours
old means the data are not flowing (interface down, patient off the unit, codes not mapped), and
a risk computed from it would look as confident as any other; the app shows no number then.
"""

from __future__ import annotations

from datetime import timedelta

from model.schemas import PatientWindow
from model.variables import VARIABLES, Category

VITAL_SIGNS = frozenset(v.name for v in VARIABLES if v.category is Category.VITAL_SIGNS)


def hours_since_vital_sign(window: PatientWindow) -> float | None:
    """Hours from the latest vital sign at or before ``window.as_of`` to ``as_of``; None if none."""
    times = [
        m.time for m in window.measurements if m.variable in VITAL_SIGNS and m.time <= window.as_of
    ]
    if not times:
        return None
    return (window.as_of - max(times)).total_seconds() / 3600.0


def vital_signs_gap(window: PatientWindow, within_h: float) -> str | None:
    """Why ``window`` must not be scored (no vital sign in the last ``within_h`` hours), or None.

    ``within_h`` 0 turns the check off.
    """
    if within_h <= 0:
        return None
    since, as_of = window.as_of - timedelta(hours=within_h), window.as_of
    # A patient-view prefetch lists vital signs first, newest first (``_sort=-date``): a recent
    # one is then found in a step or two instead of a pass over the whole chart.
    if any(since <= m.time <= as_of and m.variable in VITAL_SIGNS for m in window.measurements):
        return None
    age = hours_since_vital_sign(window)
    if age is None:
        return "no vital signs charted in the lookback window"
    if age > within_h:
        return f"no vital signs charted in the last {within_h:g} h (latest {age:.0f} h ago)"
    return None
