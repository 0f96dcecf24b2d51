"""Clinical vignettes on the bundled model (issue 21 items 2 and 7).

Table-driven: severity ladders under several histories, durations of the same derangement,
history lengths, and confounders (chronic CO2 retention, sepsis with clear lungs). The vignettes
are built by ``model.vignettes``; every assertion is about the bundled default model.
"""

from __future__ import annotations

import pytest

from model.predictor import Predictor
from model.schemas import RiskLevel
from model.vignettes import (
    COPD_ACUTE,
    COPD_CHRONIC,
    DURATIONS,
    EXTREME,
    HISTORIES,
    LADDERS,
    MODERATE,
    SEPSIS_CLEAR,
    SEPSIS_WITH_LUNG_FAILURE,
    SEVERE,
    Ladder,
    Vignette,
)

#: Differences below this are float noise of the batched forward pass, not a fall in risk.
NOISE = 1e-6


@pytest.fixture(scope="module")
def bundled() -> Predictor:
    return Predictor.load()


def _risk(model: Predictor, vignette: Vignette) -> float:
    return model.predict(vignette.window(), explain=False).probability


def _level(model: Predictor, vignette: Vignette) -> RiskLevel:
    return model.predict(vignette.window(), explain=False).level


@pytest.mark.parametrize("history", list(HISTORIES), ids=list(HISTORIES))
@pytest.mark.parametrize("ladder", LADDERS, ids=[lad.name for lad in LADDERS])
def test_risk_does_not_fall_as_respiratory_failure_worsens(
    bundled: Predictor, ladder: Ladder, history: str
) -> None:
    deranged_h, history_h = HISTORIES[history]
    risks = [
        _risk(bundled, Vignette(ladder.name, state, deranged_h, history_h))
        for state in ladder.states()
    ]
    falls = [
        f"{ladder.variable} {a} -> {b}: {ra:.3f} -> {rb:.3f}"
        for a, b, ra, rb in zip(ladder.steps, ladder.steps[1:], risks, risks[1:], strict=False)
        if rb < ra - NOISE
    ]
    assert not falls, f"risk fell along '{ladder.name}' ({history}): {falls}"
    assert risks[-1] > risks[0], f"'{ladder.name}' ({history}) does not raise the risk: {risks}"


@pytest.mark.parametrize("history", list(HISTORIES), ids=list(HISTORIES))
def test_the_extreme_state_is_critical(bundled: Predictor, history: str) -> None:
    deranged_h, history_h = HISTORIES[history]
    vignette = Vignette("extreme", EXTREME, deranged_h, history_h)
    p = _risk(bundled, vignette)
    assert _level(bundled, vignette) is RiskLevel.CRITICAL, (
        f"extreme state ({history}) scores {p:.3f}, below critical "
        f"({bundled.thresholds.critical:.3f})"
    )


@pytest.mark.parametrize(
    ("name", "state"), [("moderate", MODERATE), ("severe", SEVERE), ("extreme", EXTREME)]
)
def test_sustained_derangement_not_scored_lower_than_newly_begun(
    bundled: Predictor, name: str, state: dict[str, float]
) -> None:
    new = _risk(bundled, Vignette(name, state, deranged_h=1))
    for hours in DURATIONS[2:]:
        held = _risk(bundled, Vignette(name, state, deranged_h=hours))
        assert held >= new - NOISE, f"{name} held {hours} h: {held:.3f} < newly begun {new:.3f}"


@pytest.mark.parametrize(
    ("name", "state"), [("moderate", MODERATE), ("severe", SEVERE), ("extreme", EXTREME)]
)
def test_one_set_of_vital_signs_is_scored_from_what_it_shows(
    bundled: Predictor, name: str, state: dict[str, float]
) -> None:
    """A new admission charted once is not scored as "normal because history is missing": not
    lower than the same set after 48 h of normal charted values, and above a normal set."""
    alone = _risk(bundled, Vignette(name, state, deranged_h=0, history_h=0))
    after_normal = _risk(bundled, Vignette(name, state, deranged_h=0, history_h=48))
    normal = _risk(bundled, Vignette("normal", {}, deranged_h=0, history_h=0))
    assert alone >= after_normal - NOISE, f"{name}: one set {alone:.3f} < {after_normal:.3f}"
    assert alone > normal, f"{name}: one set {alone:.3f} not above a normal set {normal:.3f}"


def test_severity_order_of_the_named_states(bundled: Predictor) -> None:
    named = (("normal", {}), ("moderate", MODERATE), ("severe", SEVERE), ("extreme", EXTREME))
    risks = [_risk(bundled, Vignette(n, s, deranged_h=6)) for n, s in named]
    assert risks == sorted(risks), risks
    assert risks[0] < risks[-1], risks


@pytest.mark.parametrize("deranged_h", [6, 48])
def test_chronic_co2_retention_is_not_acute_failure(bundled: Predictor, deranged_h: int) -> None:
    """Compensated hypercapnia at the COPD SpO2 target (88-92%) is below acute-on-chronic
    failure with acidaemia and tachypnoea, and is not "critical"."""
    chronic = Vignette("copd chronic", COPD_CHRONIC, deranged_h=deranged_h)
    acute = Vignette("copd acute", COPD_ACUTE, deranged_h=deranged_h)
    assert _risk(bundled, acute) > _risk(bundled, chronic)
    assert _level(bundled, chronic) is not RiskLevel.CRITICAL


@pytest.mark.parametrize("deranged_h", [6, 24])
def test_sepsis_with_clear_lungs_is_not_respiratory_failure(
    bundled: Predictor, deranged_h: int
) -> None:
    """Septic shock with normal gas exchange on room air is not "critical"; the same patient
    whose lungs fail scores higher."""
    clear = Vignette("sepsis clear lungs", SEPSIS_CLEAR, deranged_h=deranged_h)
    failing = Vignette("sepsis lung failure", SEPSIS_WITH_LUNG_FAILURE, deranged_h=deranged_h)
    assert _risk(bundled, failing) > _risk(bundled, clear)
    assert _level(bundled, clear) is not RiskLevel.CRITICAL
