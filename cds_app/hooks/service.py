"""The CDS service: authenticate, gather data, score, build cards, log who saw what."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from cds_app.db.hook_responses import HookResponses
from cds_app.db.predictions import PriorAssessment
from cds_app.db.security import CardLog
from cds_app.db.session import Insert, NewRow, insert_rows, new_row
from cds_app.db.store import Store
from cds_app.db.tables import AuditRow, FeedbackRow, IssuedCardRow
from cds_app.db.types import utcnow
from cds_app.engine.scorer import NotScoredError, RiskEngine
from cds_app.hooks.cards import CardContext, build_cards, not_scored_card
from cds_app.hooks.compute_gate import OPEN_GATE, ComputeGate
from cds_app.hooks.errors import BadRequestError
from cds_app.hooks.jwt_auth import Caller, JwtVerifier
from cds_app.hooks.mapping_cache import ObservationMappingCache
from cds_app.hooks.patient_data import PREFETCH_TEMPLATES, gather_patient_data
from cds_app.hooks.requests import HookRequest, decode_feedback, decode_hook_request
from cds_app.hooks.schemas import Card, CdsResponse, Discovery, ServiceDefinition
from fhir_adapter.codes import CodeTable
from fhir_adapter.values import parse_instant
from model.ports import Pseudonymiser, redacted_patient
from model.schemas import PatientKey, PatientWindow, RiskPrediction, StaticInfo

log = logging.getLogger(__name__)

INSECURE_CALLER = Caller(iss="insecure-local", sub=None, jti="", tenant=None)


@dataclass(frozen=True, slots=True)
class HookAnswer:
    """A patient-view answer as the JSON of a ``CdsResponse``: built and validated once, then
    stored (a repeated ``hookInstance`` gets it again) and sent as it is."""

    json: dict[str, Any]

    @property
    def indicators(self) -> list[str]:
        """The indicator of each card (for the metrics)."""
        return [str(card["indicator"]) for card in self.json.get("cards", ())]


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
    clock_skew_s: float = 30.0


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
        responses: HookResponses,
        db: Engine,
        codes: CodeTable,
        fhir_transport: httpx.BaseTransport | None = None,
        mapping_cache_size: int = 200_000,
        pseudonymise: Pseudonymiser = redacted_patient,
        gate: ComputeGate = OPEN_GATE,
    ) -> None:
        self.config = config
        self.gate = gate
        self._pseudonymise = pseudonymise
        self._verifier = verifier
        self._engine = engine
        self._store = store
        self._db = db
        self._cards = card_log
        self._responses = responses
        self._base = config.base_url
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
        """Verify the caller's JWT for the endpoint at ``path``; raise TokenError (401)."""
        if self._verifier is None:
            return INSECURE_CALLER
        audiences = [f"{self.config.audience_base}{path}"]
        if path.endswith("/feedback"):  # some clients put the service URL in aud for feedback
            audiences.append(f"{self.config.audience_base}{path.removesuffix('/feedback')}")
        return self._verifier.verify(authorization, audiences)

    def patient_view(self, body: bytes, caller: Caller) -> HookAnswer:
        """Answer one ``patient-view`` call (raises BadRequestError -> 400, DataUnavailableError
        -> 412). A repeated ``hookInstance`` of the same client gets its first answer again.
        Computes inside the service's gate (``cds_app.hooks.compute_gate``)."""
        with self.gate:
            return self._patient_view(body, caller)

    def _patient_view(self, body: bytes, caller: Caller) -> HookAnswer:
        started = time.perf_counter()
        request = decode_hook_request(body)
        if request.hook != "patient-view":
            raise BadRequestError("this service answers the patient-view hook")
        hook_instance = request.hookInstance
        actor = f"{caller.iss} {request.context.userId or ''}".strip()
        repeat = self._repeat(request, caller, actor)
        if repeat is not None:
            return repeat
        as_of = utcnow()
        data = gather_patient_data(
            request,
            as_of=as_of,
            lookback_h=self.config.lookback_h,
            mrn_system=self.config.mrn_system,
            mapper=self._mapper,
            fhir_budget_s=self.config.fhir_budget_s,
            transport=self._transport,
            scope=caller.iss,
            gate=self.gate,
        )
        if data.dropped:
            log.info(
                "patient-view %s: %d Observations not used (first: %s)",
                self._pseudonymise(data.key),
                len(data.dropped),
                data.dropped[0].reason[:200],
            )
        self._remember_patient(data.key, data.fhir_id, data.static.age_years, data.static.sex)
        last_film_at: datetime | None = None
        cards: list[Card] = []
        answer = HookAnswer({"cards": []})
        detail = f"hookInstance={hook_instance} dropped={len(data.dropped)}"

        def answer_row(response: CdsResponse) -> NewRow:
            nonlocal answer
            answer = HookAnswer(_dump(response))  # stored as sent
            return HookResponses.row(self.config.service_id, caller.iss, hook_instance,
                                     request.context.patientId, answer.json)  # fmt: skip

        def card_rows(
            prediction: RiskPrediction, previous: PriorAssessment | None, prediction_id: int
        ) -> list[Insert]:
            context = CardContext(
                base_url=self.config.base_url,
                fhir_patient_id=data.fhir_id,
                prediction_id=prediction_id,
                last_film_at=last_film_at,
                low_risk_card=self.config.low_risk_card,
            )
            if not self.config.shadow_mode:  # shadow mode: recorded, never shown
                cards.extend(build_cards(prediction, previous, context))
            rows: list[Insert] = [
                new_row(
                    IssuedCardRow,
                    uuid=card.uuid or "",
                    service_id=self.config.service_id,
                    hook_instance=hook_instance,
                    patient_key=str(data.key),
                    prediction_id=prediction_id,
                    suggestion_uuids=[s.uuid for s in card.suggestions or () if s.uuid],
                    issuer=caller.iss,
                )
                for card in cards
            ]
            rows.append(
                new_row(
                    AuditRow,
                    actor=actor,
                    action="card-viewed" if cards else "hook-no-card",
                    patient_key=str(data.key),
                    detail=f"{detail} cards={len(cards)}",
                )
            )
            rows.append(answer_row(CdsResponse(cards=cards)))
            return rows

        not_scored: str | None = None
        try:
            # The films, the prior assessment and every row of the call: one connection, one
            # transaction, committed before the answer is returned.
            with self._db.begin() as connection:
                films, last_film_at = self._store.recent_films(
                    data.key, as_of, self._engine.film_max_age_h, connection=connection
                )
                window = PatientWindow(
                    patient_key=data.key,
                    as_of=as_of,
                    measurements=data.measurements,
                    films=films,
                    static=data.static,
                )
                try:
                    self._engine.score_window(
                        window, trigger="patient-view", also=card_rows,
                        fhir_patient_id=data.fhir_id, connection=connection,
                    )  # fmt: skip
                except NotScoredError as exc:
                    not_scored = str(exc)
                    shown = not self.config.shadow_mode
                    cards = [not_scored_card(not_scored, self._base)] if shown else []
                    audit = new_row(AuditRow, actor=actor, action="hook-not-scored",
                                    patient_key=str(data.key), detail=detail)  # fmt: skip
                    insert_rows(connection, [audit, answer_row(CdsResponse(cards=cards))])
        except IntegrityError:
            return self._first_answer(request, caller)  # a duplicate call committed first
        if not_scored is not None:
            log.info("patient-view %s: not scored (%s)", self._pseudonymise(data.key), not_scored)
            return answer
        if log.isEnabledFor(logging.INFO):  # the pseudonym is a keyed hash: only when logged
            log.info(
                "patient-view %s: %d cards, %.1f ms, fhirServer=%s",
                self._pseudonymise(data.key),
                len(cards),
                (time.perf_counter() - started) * 1000,
                data.used_fhir_server,
            )
        return answer

    def _repeat(self, request: HookRequest, caller: Caller, actor: str) -> HookAnswer | None:
        """The stored answer of an already-answered hookInstance (audited), else None."""
        stored = self._responses.get(self.config.service_id, caller.iss, request.hookInstance)
        if stored is None:
            return None
        if stored.patient_id != request.context.patientId:
            raise BadRequestError("hookInstance was already used for another patient")
        self._cards.audit(actor, "hook-repeated", None, f"hookInstance={request.hookInstance}")
        return HookAnswer(stored.response)

    def _first_answer(self, request: HookRequest, caller: Caller) -> HookAnswer:
        stored = self._repeat(request, caller, caller.iss)
        if stored is None:  # the unique violation was not ours: a real error
            raise RuntimeError("hook answer could not be stored")
        return stored

    def feedback(self, body: bytes, caller: Caller) -> int:
        """Persist feedback entries about cards issued to this client; return how many.

        Every entry must name a card this service issued to the caller (and, for accepted ones,
        suggestions of that card), with an RFC 3339 time between the card's issue and now;
        otherwise nothing is stored and the call is a 400 saying which entry is wrong.
        """
        request = decode_feedback(body)
        skew = timedelta(seconds=self.config.clock_skew_s)
        now = utcnow()
        rows = []
        for number, entry in enumerate(request.feedback):
            where = f"feedback[{number}]"
            card = self._cards.card(entry.card)
            if card is None or card.issuer != caller.iss:
                raise BadRequestError(f"{where}.card: no card {entry.card} was issued to you")
            known = set(card.suggestion_uuids)
            accepted = [s.id for s in entry.acceptedSuggestions]
            if not set(accepted) <= known:
                raise BadRequestError(f"{where}.acceptedSuggestions: not a suggestion of the card")
            stamp = parse_instant(entry.outcomeTimestamp, strict=True)
            assert stamp is not None  # decode_feedback checked it
            if not card.issued_at - skew <= stamp <= now + skew:
                raise BadRequestError(
                    f"{where}.outcomeTimestamp is outside the card's life (issued "
                    f"{card.issued_at.isoformat(timespec='seconds')}, now "
                    f"{now.isoformat(timespec='seconds')})"
                )
            rows.append(
                FeedbackRow(
                    service_id=self.config.service_id,
                    card_uuid=entry.card,
                    outcome=entry.outcome,
                    accepted_suggestions=accepted,
                    override_reason=msgspec.to_builtins(entry.overrideReason)
                    if entry.overrideReason
                    else None,
                    outcome_timestamp=stamp.astimezone(UTC),
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


def _dump(response: CdsResponse) -> dict[str, Any]:
    return response.model_dump(mode="json", exclude_none=True)
