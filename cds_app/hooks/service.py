"""The CDS service: authenticate, gather data, score, build cards, log who saw what."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from sqlmodel import SQLModel

from cds_app.db.security import CardLog
from cds_app.db.store import Store
from cds_app.db.tables import AuditRow, FeedbackRow, IssuedCardRow
from cds_app.db.types import utcnow
from cds_app.engine.scorer import NotScoredError, RiskEngine
from cds_app.hooks.cards import CardContext, build_cards, not_scored_card
from cds_app.hooks.jwt_auth import Caller, JwtVerifier
from cds_app.hooks.mapping_cache import ObservationMappingCache
from cds_app.hooks.patient_data import PREFETCH_TEMPLATES, gather_patient_data
from cds_app.hooks.schemas import (
    Card,
    CdsResponse,
    Discovery,
    FeedbackRequest,
    ServiceDefinition,
)
from fhir_adapter.codes import CodeTable
from model.ports import Pseudonymiser, redacted_patient
from model.schemas import PatientKey, PatientWindow, RiskPrediction, StaticInfo

log = logging.getLogger(__name__)

INSECURE_CALLER = Caller(iss="insecure-local", sub=None, jti="", tenant=None)


class BadRequestError(ValueError):
    """The hook request is not a valid CDS Hooks call (answered with 400)."""


@dataclass(frozen=True, slots=True)
class HookConfig:
    """The settings the service reads, resolved once."""

    service_id: str
    base_url: str
    audience_base: str
    mrn_system: str
    lookback_h: float
    fhir_budget_s: float
    low_risk_card: bool
    shadow_mode: bool = False


class CdsService:
    """One ``patient-view`` service plus discovery and feedback."""

    def __init__(
        self,
        config: HookConfig,
        *,
        verifier: JwtVerifier | None,
        engine: RiskEngine,
        store: Store,
        card_log: CardLog,
        codes: CodeTable,
        fhir_transport: httpx.BaseTransport | None = None,
        mapping_cache_size: int = 200_000,
        pseudonymise: Pseudonymiser = redacted_patient,
    ) -> None:
        self.config = config
        self._pseudonymise = pseudonymise
        self._verifier = verifier
        self._engine = engine
        self._store = store
        self._cards = card_log
        self._mapper = ObservationMappingCache(codes, mapping_cache_size)
        self._transport = fhir_transport
        self._known_patients: dict[str, tuple[str, float | None, str | None]] = {}

    def discovery(self) -> Discovery:
        """The discovery document."""
        return Discovery(
            services=[
                ServiceDefinition(
                    hook="patient-view",
                    id=self.config.service_id,
                    title="Risk of invasive ventilation within 24 h",
                    description=(
                        "Probability that the patient needs invasive mechanical ventilation in the "
                        "next 24 h, from vital signs, blood gases and labs of the last 48 h fused "
                        "with the latest portable chest film."
                    ),
                    prefetch=dict(PREFETCH_TEMPLATES),
                    usageRequirements=(
                        "Adult ICU patients. Chest films reach the service by DICOM C-STORE; "
                        "without fhirServer/fhirAuthorization, prefetch is required."
                    ),
                )
            ]
        )

    def authenticate(self, authorization: str | None, path: str) -> Caller:
        """Verify the caller's JWT for the endpoint at ``path``; raise AuthError (401)."""
        if self._verifier is None:
            return INSECURE_CALLER
        audiences = [f"{self.config.audience_base}{path}"]
        if path.endswith("/feedback"):  # some clients put the service URL in aud for feedback
            audiences.append(f"{self.config.audience_base}{path.removesuffix('/feedback')}")
        return self._verifier.verify(authorization, audiences)

    def patient_view(self, body: bytes, caller: Caller) -> CdsResponse:
        """Answer one ``patient-view`` call (raises DataUnavailableError -> 412)."""
        started = time.perf_counter()
        request = _parse(body)
        if request.get("hook") != "patient-view":
            raise BadRequestError("this service answers the patient-view hook")
        hook_instance = request.get("hookInstance")
        if not isinstance(hook_instance, str) or not hook_instance:
            raise BadRequestError("hookInstance is required")
        as_of = utcnow()
        try:
            data = gather_patient_data(
                request,
                as_of=as_of,
                lookback_h=self.config.lookback_h,
                mrn_system=self.config.mrn_system,
                mapper=self._mapper,
                fhir_budget_s=self.config.fhir_budget_s,
                transport=self._transport,
            )
        except ValueError as exc:
            raise BadRequestError(str(exc)) from exc
        self._remember_patient(data.key, data.fhir_id, data.static.age_years, data.static.sex)
        films = self._store.films(data.key, as_of, self._engine.film_max_age_h)
        window = PatientWindow(
            patient_key=data.key,
            as_of=as_of,
            measurements=data.measurements,
            films=films,
            static=data.static,
        )
        if films:
            last_film_at: datetime | None = films[-1].acquired_at
        else:
            last_row = self._store.latest_film_row(data.key, as_of)
            last_film_at = last_row.acquired_at if last_row else None
        cards: list[Card] = []
        actor = f"{caller.iss} {_user(request)}".strip()

        def card_rows(
            prediction: RiskPrediction, previous: RiskPrediction | None, prediction_id: int
        ) -> list[SQLModel]:
            context = CardContext(
                base_url=self.config.base_url,
                fhir_patient_id=data.fhir_id,
                prediction_id=prediction_id,
                last_film_at=last_film_at,
                low_risk_card=self.config.low_risk_card,
            )
            if not self.config.shadow_mode:  # shadow mode: recorded, never shown
                cards.extend(build_cards(prediction, previous, context))
            rows: list[SQLModel] = [
                IssuedCardRow(
                    uuid=card.uuid or "",
                    service_id=self.config.service_id,
                    hook_instance=hook_instance,
                    patient_key=str(data.key),
                    prediction_id=prediction_id,
                    suggestion_uuids=[s.uuid for s in card.suggestions or () if s.uuid],
                )
                for card in cards
            ]
            rows.append(
                AuditRow(
                    actor=actor,
                    action="card-viewed" if cards else "hook-no-card",
                    patient_key=str(data.key),
                    detail=f"hookInstance={hook_instance} cards={len(cards)}",
                )
            )
            return rows

        try:
            self._engine.score_window(
                window, trigger="patient-view", also=card_rows, fhir_patient_id=data.fhir_id
            )
        except NotScoredError as exc:
            if not self.config.shadow_mode:
                cards = [not_scored_card(str(exc), self.config.base_url)]
            self._cards.audit(
                actor, "hook-not-scored", str(data.key), f"hookInstance={hook_instance}"
            )
            log.info("patient-view %s: not scored (%s)", self._pseudonymise(data.key), exc)
            return CdsResponse(cards=cards)
        log.info(
            "patient-view %s: %d cards, %.1f ms, fhirServer=%s",
            self._pseudonymise(data.key),
            len(cards),
            (time.perf_counter() - started) * 1000,
            data.used_fhir_server,
        )
        return CdsResponse(cards=cards)

    def feedback(self, body: bytes, caller: Caller) -> int:
        """Persist feedback entries; return how many."""
        try:
            request = FeedbackRequest.model_validate_json(body)
        except ValueError as exc:
            raise BadRequestError(f"invalid feedback: {exc}") from exc
        rows = []
        for entry in request.feedback:
            if entry.outcome == "accepted" and not entry.acceptedSuggestions:
                raise BadRequestError("accepted feedback needs acceptedSuggestions")
            try:
                stamp = datetime.fromisoformat(entry.outcomeTimestamp.replace("Z", "+00:00"))
            except ValueError as exc:
                raise BadRequestError("outcomeTimestamp must be an ISO 8601 instant") from exc
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            rows.append(
                FeedbackRow(
                    service_id=self.config.service_id,
                    card_uuid=entry.card,
                    outcome=entry.outcome,
                    accepted_suggestions=[s.id for s in entry.acceptedSuggestions or ()],
                    override_reason=entry.overrideReason.model_dump(exclude_none=True)
                    if entry.overrideReason
                    else None,
                    outcome_timestamp=stamp,
                    issuer=caller.iss,
                )
            )
        self._cards.add_feedback(rows)
        return len(rows)

    def _remember_patient(
        self, key: PatientKey, fhir_id: str, age: float | None, sex: str | None
    ) -> None:
        token = str(key)
        if self._known_patients.get(token) == (fhir_id, age, sex):
            return
        self._store.upsert_patient(key, fhir_id=fhir_id, static=StaticInfo(age_years=age, sex=sex))
        if len(self._known_patients) > 100_000:
            self._known_patients.clear()
        self._known_patients[token] = (fhir_id, age, sex)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError("body is not JSON") from exc
    if not isinstance(request, dict):
        raise BadRequestError("body must be a JSON object")
    return request


def _user(request: dict[str, Any]) -> str:
    context = request.get("context")
    user = context.get("userId") if isinstance(context, dict) else None
    return user if isinstance(user, str) else ""
