"""Bedside criteria beside the model on the card: shown with thresholds, and a safety net when
they signal high risk and the model's level is lower; applicability wording; honest drivers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from cds_app.context import AppContext
from cds_app.hooks.cards import CardContext, build_cards
from model.schemas import (
    BedsideCriterion,
    BedsideReading,
    Driver,
    EhrFlag,
    EhrFlagKind,
    FilmNotUsed,
    FilmNotUsedReason,
    PatientKey,
    RiskLevel,
    RiskPrediction,
)
from tests.cds_app.fakes import FakeRiskModel
from tests.cds_app.hooks_helpers import call_hook, prefetch_call
from tests.support.ehr import MRN_SYSTEM, TestEhr, full_prefetch, hook_request

KEY = PatientKey(system="urn:test", value="CARD-1")
NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
CTX = CardContext(base_url="https://cds.example.org", fhir_patient_id="pt-1", prediction_id=7,
                  last_film_at=None, low_risk_card=False)  # fmt: skip
HIGH_RISK_SIGNS = BedsideReading(
    rox=3.1, sf_ratio=150.0, resp_rate=33.0, spo2=88.0, fio2=60.0,
    high_risk=(BedsideCriterion.ROX_BELOW_3_85, BedsideCriterion.RR_AT_LEAST_30),
)  # fmt: skip


def _prediction(level: RiskLevel, p: float, **extra: object) -> RiskPrediction:
    return RiskPrediction(patient_key=KEY, as_of=NOW, probability=p, level=level,
                          model_id="ventfusion-gated", model_version="1", image_weight=0.0,
                          **extra)  # type: ignore[arg-type]  # fmt: skip


def test_bedside_criteria_of_high_risk_make_a_low_model_card_a_warning() -> None:
    (card,) = build_cards(_prediction(RiskLevel.LOW, 0.04, bedside=HIGH_RISK_SIGNS), None, CTX)
    assert card.indicator == "warning"
    assert card.summary.startswith("Bedside signs of high risk (ROX < 3.85 and RR ≥ 30/min)")
    assert "model risk low, 4%" in card.summary
    assert card.detail is not None
    assert card.detail.startswith(
        "**Bedside criteria signal high risk (ROX index below 3.85 and respiratory rate 30/min "
        "or more) but the model's level is low (4%)"
    )
    assert "- ROX index 3.10: high risk < 3.85, low risk ≥ 4.88 (Roca 2016, 2019)" in card.detail
    assert "- SpO2/FiO2 150: < 235 ≈ PaO2/FiO2 200, < 315 ≈ 300 (Rice 2007)" in card.detail
    assert "- RR 33/min: ≥ 30/min (CURB-65; IDSA/ATS)" in card.detail
    assert card.overrideReasons  # it can be dismissed with a reason, like any alert


def test_no_disagreement_when_the_model_is_high_or_the_signs_are_absent() -> None:
    (high,) = build_cards(_prediction(RiskLevel.CRITICAL, 0.8, bedside=HIGH_RISK_SIGNS), None, CTX)
    assert high.indicator == "critical"
    assert "Bedside criteria signal" not in (high.detail or "")
    assert "Bedside criteria now:" in (high.detail or "")
    calm = BedsideReading(rox=12.0, sf_ratio=460.0, resp_rate=16.0, spo2=97.0, fio2=21.0)
    (info,) = build_cards(_prediction(RiskLevel.INFO, 0.15, bedside=calm), None, CTX)
    assert info.indicator == "info"
    assert build_cards(_prediction(RiskLevel.LOW, 0.02, bedside=calm), None, CTX) == []


def test_film_not_used_and_window_flags_are_said_on_the_card() -> None:
    refused = FilmNotUsed(sop_instance_uid="1.2.3", acquired_at=NOW - timedelta(hours=3),
                          reason=FilmNotUsedReason.UNLIKE_TRAINING_FILMS, score=9.9)  # fmt: skip
    flag = EhrFlag(kind=EhrFlagKind.ABOVE_TRAINING_RANGE, variable="lactate", value=12.0,
                   bound=6.5)  # fmt: skip
    prediction = _prediction(RiskLevel.WARNING, 0.4, film_not_used=refused, ehr_flags=(flag,))
    (card,) = build_cards(prediction, None, CTX)
    assert card.detail is not None
    assert (
        "Chest film not used: it does not resemble the films this model was trained on "
        "(film from 3 h ago). This risk uses EHR data only." in card.detail
    )
    assert (
        "_Outside the model's training data, interpret with caution: Lactate 12.0 mmol/L is "
        "above the values this model was trained on (highest 6.5 mmol/L)._" in card.detail
    )


def test_drivers_are_points_of_the_difference_from_the_stated_reference() -> None:
    drivers = tuple(
        Driver(variable=f"g{i}", contribution=c, description=f"Group {i}")
        for i, c in enumerate((0.20, 0.10, -0.05, 0.03, 0.01, 0.004))
    )
    prediction = _prediction(RiskLevel.WARNING, 0.40, drivers=drivers, reference_probability=0.03,
                             film_age_h=2.0, probability_without_film=0.324)  # fmt: skip
    (card,) = build_cards(prediction, None, CTX)
    assert card.detail is not None
    assert (
        "Compared with the same patient (same age, sex and charting times) with every charted "
        "value normal and no chest film (risk 3%): +37 points in all:" in card.detail
    )
    rows = [line for line in card.detail.splitlines() if line.startswith("- ") and "point" in line]
    assert rows[:4] == ["- Group 0 (+20 points)", "- Group 1 (+10 points)",
                        "- Group 2 (−5 points)", "- Group 3 (+3 points)"]  # fmt: skip
    assert rows[4] == "- Other values (+1 point)"
    assert rows[5] == "- Chest film (+8 points)"


def test_patient_view_shows_the_safety_net(client: TestClient, ehr: TestEhr) -> None:
    # severity 0.6: SpO2 92% on FiO2 47% (S/F 196), RR 26; the fake model says 17% (moderate)
    (card,) = prefetch_call(client, ehr, "pt-net", "MRN-NET", severity=0.6).json()["cards"]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Bedside signs of high risk (SpO2/FiO2 < 235)")
    assert "Bedside criteria now:" in card["detail"]
    assert "- SpO2/FiO2 19" in card["detail"]


def test_a_birth_date_in_the_future_reaches_the_model_as_an_unknown_age(
    client: TestClient, ehr: TestEhr, fake_model: FakeRiskModel
) -> None:
    now = datetime.now(UTC)
    prefetch = full_prefetch("pt-age", "MRN-AGE", now=now, severity=0.2)
    prefetch["patient"]["birthDate"] = "2090-01-01"
    assert call_hook(client, ehr, hook_request("pt-age", prefetch=prefetch)).status_code == 200
    assert fake_model.windows[-1].static.age_years is None
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    row = ctx.store.patient(PatientKey(system=MRN_SYSTEM, value="MRN-AGE"))
    assert row is not None
    assert row.age_years is None
    page = client.get("/risk", params={"key": f"{MRN_SYSTEM}|MRN-AGE"})
    assert page.status_code == 403  # outside demo mode the page needs a SMART launch
