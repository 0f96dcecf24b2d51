"""Clinical vignettes: hand-built patients whose risk ordering physiology dictates.

A vignette is a ``PatientWindow`` charted hourly: ``history_h`` hours of a baseline (normal
values unless stated), of which the last ``deranged_h`` hours hold the vignette's state; the set
charted at the prediction time always holds the state. Blood gases and laboratory values are
charted every ``LAB_INTERVAL_H`` hours, vital signs every hour. ``history_h=0`` is one charted set
and nothing else (a new admission). The suite in ``tests/model/test_vignettes.py`` and the plot of
``bench/plot_vignettes.py`` score them with the bundled model; docs/model.md shows the results.

All values are in the canonical units of ``model.variables`` (FiO2 in %, O2 flow in L/min).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from model.schemas import Measurement, PatientKey, PatientWindow, StaticInfo
from model.shapley import NORMAL_VALUES
from model.variables import BY_NAME, Category

KEY = PatientKey(system="urn:ventfusion:vignette", value="VIGNETTE")
AS_OF = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
LAB_INTERVAL_H = 6
#: Laboratory variables (blood gas, chemistry) charted every ``LAB_INTERVAL_H`` hours.
LABS = tuple(v.name for v in BY_NAME.values() if v.category is Category.LABORATORY)

#: The extreme state of issue 21: RR 42, SpO2 85% on FiO2 100% at 50 L/min high-flow, HR 130,
#: SBP 95, GCS 12. Every model must call it "critical".
EXTREME: dict[str, float] = {
    "resp_rate": 42.0,
    "spo2": 85.0,
    "fio2": 100.0,
    "o2_flow": 50.0,
    "heart_rate": 130.0,
    "sbp": 95.0,
    "gcs_total": 12.0,
}
#: Hypoxaemic respiratory failure on high-flow oxygen, moderately severe (ROX 3.9).
SEVERE: dict[str, float] = {
    "resp_rate": 32.0,
    "spo2": 90.0,
    "fio2": 70.0,
    "o2_flow": 40.0,
    "heart_rate": 112.0,
}
#: Low-flow oxygen with mild tachypnoea (ROX 9.2).
MODERATE: dict[str, float] = {
    "resp_rate": 24.0,
    "spo2": 93.0,
    "fio2": 40.0,
    "o2_flow": 5.0,
    "heart_rate": 96.0,
}


@dataclass(frozen=True, slots=True)
class Vignette:
    """One charted patient: a state held for ``deranged_h`` hours after a baseline."""

    name: str
    state: Mapping[str, float]
    deranged_h: int = 0  # hours before the prediction time the state began (0: only now)
    history_h: int = 48  # hours of charted history before the prediction time (0: one set)
    baseline: Mapping[str, float] = field(default_factory=lambda: dict(NORMAL_VALUES))
    age: float | None = 65.0
    sex: str | None = "female"

    def with_state(self, **changes: float) -> Vignette:
        """The same vignette with some state values changed."""
        return replace(self, state={**self.state, **changes})

    def window(self, as_of: datetime = AS_OF) -> PatientWindow:
        """The vignette as a ``PatientWindow`` at ``as_of``."""
        values = {**self.baseline, **self.state}
        out: list[Measurement] = []
        for hours_ago in range(self.history_h, -1, -1):
            deranged = hours_ago < max(self.deranged_h, 1)
            row = {**self.baseline, **self.state} if deranged else dict(self.baseline)
            for name in values:
                if name not in row or (name in LABS and hours_ago % LAB_INTERVAL_H):
                    continue
                out.append(
                    Measurement(
                        patient_key=KEY,
                        variable=name,
                        value=float(row[name]),
                        unit=BY_NAME[name].unit,
                        time=as_of - timedelta(hours=hours_ago),
                    )
                )
        return PatientWindow(
            patient_key=KEY,
            as_of=as_of,
            measurements=tuple(out),
            static=StaticInfo(age_years=self.age, sex=self.sex),
        )


@dataclass(frozen=True, slots=True)
class Ladder:
    """A severity ladder: one variable stepped from better to worse, everything else fixed."""

    name: str
    base: Mapping[str, float]
    variable: str
    steps: tuple[float, ...]  # from the least to the most severe value
    extra: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # moved alongside

    def states(self) -> list[dict[str, float]]:
        out = []
        for i, value in enumerate(self.steps):
            state = {**self.base, self.variable: value}
            state.update({name: steps[i] for name, steps in self.extra.items()})
            out.append(state)
        return out


_HFNC = {"fio2": 60.0, "o2_flow": 40.0, "resp_rate": 28.0, "spo2": 92.0, "heart_rate": 105.0}
_GAS = {"paco2": 38.0, "ph": 7.44, "bicarbonate": 25.0, "lactate": 1.4}

#: The severity ladders of issue 21 item 2, each from better to worse.
LADDERS: tuple[Ladder, ...] = (
    Ladder("lower SpO2 at the same FiO2", _HFNC, "spo2", (98, 95, 92, 89, 86, 83, 80)),
    Ladder("higher FiO2 at the same SpO2", _HFNC, "fio2", (30, 40, 50, 60, 70, 80, 90, 100)),
    Ladder("higher O2 flow at the same FiO2", _HFNC, "o2_flow", (5, 10, 20, 30, 40, 50, 60)),
    Ladder("higher respiratory rate", _HFNC, "resp_rate", (14, 18, 22, 26, 30, 34, 38, 42, 46)),
    Ladder(
        "lower PaO2/FiO2 (PaO2 at FiO2 60%)",
        {**_HFNC, **_GAS},
        "pao2",
        (200, 150, 120, 100, 80, 65, 55, 45),
    ),
    Ladder("lower GCS", _HFNC, "gcs_total", (15, 14, 13, 12, 11, 10, 9, 8)),
    Ladder(
        "room air to high-flow (FiO2, flow and SpO2 together)",
        {"resp_rate": 24.0, "heart_rate": 100.0},
        "fio2",
        (21, 28, 36, 50, 70, 90, 100),
        extra={"o2_flow": (0, 2, 4, 30, 40, 50, 60), "spo2": (95, 94, 93, 92, 91, 89, 86)},
    ),
)

#: Histories the ladders are scored with (deranged hours, charted hours).
HISTORIES: dict[str, tuple[int, int]] = {
    "one charted set": (0, 0),
    "new after 48 h normal": (0, 48),
    "held 6 h": (6, 48),
    "held 48 h": (48, 48),
}

#: Durations of the same derangement (hours held, within 48 h of charted history).
DURATIONS = (0, 1, 3, 6, 12, 24, 48)

#: Chronic CO2 retention (COPD, compensated: normal pH, high bicarbonate, SpO2 target 88-92%).
COPD_CHRONIC: dict[str, float] = {
    "resp_rate": 20.0,
    "spo2": 89.0,
    "fio2": 28.0,
    "o2_flow": 2.0,
    "heart_rate": 88.0,
    "paco2": 58.0,
    "ph": 7.38,
    "bicarbonate": 33.0,
}
#: Acute-on-chronic hypercapnic failure: the same patient with acidaemia and tachypnoea.
COPD_ACUTE: dict[str, float] = {**COPD_CHRONIC, "paco2": 78.0, "ph": 7.22, "resp_rate": 30.0}
#: Septic shock with clear lungs: circulation deranged, gas exchange normal on room air.
SEPSIS_CLEAR: dict[str, float] = {
    "heart_rate": 125.0,
    "sbp": 85.0,
    "dbp": 45.0,
    "map": 58.0,
    "temperature": 39.2,
    "lactate": 4.5,
    "wbc": 18.0,
    "resp_rate": 24.0,
    "spo2": 96.0,
    "fio2": 21.0,
    "o2_flow": 0.0,
}
#: The same septic patient whose lungs fail (SpO2 88% on FiO2 80% at 50 L/min, RR 36).
SEPSIS_WITH_LUNG_FAILURE: dict[str, float] = {
    **SEPSIS_CLEAR,
    "resp_rate": 36.0,
    "spo2": 88.0,
    "fio2": 80.0,
    "o2_flow": 50.0,
}
