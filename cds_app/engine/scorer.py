"""Score one patient: window from the store (or given), predict, record, queue a RiskAssessment."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from cds_app import CdsAppError
from cds_app.db.outbox import DbOutbox
from cds_app.db.predictions import PredictionRepository, PriorAssessment
from cds_app.db.session import Insert
from cds_app.db.store import Store
from cds_app.db.types import utcnow
from fhir_adapter.writer import RISK_KIND, prediction_dedup_key, prediction_payload
from model.bedside import bedside_reading
from model.ports import Pseudonymiser, RiskModel, redacted_patient
from model.schemas import PatientKey, PatientWindow, RiskPrediction
from model.sufficiency import vital_signs_gap

log = logging.getLogger(__name__)


class NotScoredError(CdsAppError):
    """The window lacks current data (e.g. no recent vital sign): no risk may be shown."""


@dataclass(frozen=True, slots=True)
class Scored:
    """A recorded prediction, its row id and the one before it (for "change since")."""

    prediction: RiskPrediction
    prediction_id: int
    previous: PriorAssessment | None


class RiskEngine:
    """Turns stored or supplied data into recorded predictions."""

    def __init__(
        self,
        *,
        store: Store,
        predictions: PredictionRepository,
        outbox: DbOutbox,
        model: RiskModel,
        lookback_h: float,
        film_max_age_h: float,
        write_back: bool,
        shadow: bool = False,
        require_vitals_within_h: float = 0.0,
        pseudonymise: Pseudonymiser = redacted_patient,
    ) -> None:
        self.store = store
        self.pseudonymise = pseudonymise
        self.predictions = predictions
        self.outbox = outbox
        self.model = model
        self.lookback_h = lookback_h
        self.film_max_age_h = film_max_age_h
        self.write_back = write_back
        self.shadow = shadow
        self.require_vitals_within_h = require_vitals_within_h

    def window(self, key: PatientKey, as_of: datetime | None = None) -> PatientWindow:
        """The patient's stored window at ``as_of`` (default: now)."""
        return self.store.window(
            key,
            as_of or utcnow(),
            lookback_h=self.lookback_h,
            film_max_age_h=self.film_max_age_h,
        )

    def predict(self, window: PatientWindow) -> RiskPrediction:
        """The model's prediction with the bedside criteria beside it (nothing recorded)."""
        prediction = self.model.predict(window)
        return prediction.model_copy(update={"bedside": bedside_reading(window)})

    def score(
        self, key: PatientKey, as_of: datetime | None = None, *, trigger: str = "data"
    ) -> Scored:
        """Score ``key`` on stored data."""
        patient = self.store.patient(key)
        return self.score_window(
            self.window(key, as_of),
            trigger=trigger,
            fhir_patient_id=patient.fhir_id if patient else None,
        )

    def score_window(
        self,
        window: PatientWindow,
        *,
        trigger: str,
        also: Callable[[RiskPrediction, PriorAssessment | None, int], Sequence[Insert]]
        | None = None,
        fhir_patient_id: str | None = None,
        connection: Connection | None = None,
    ) -> Scored:
        """Predict on ``window``; record the prediction, its RiskAssessment write and the rows
        ``also(prediction, previous, prediction_id)`` returns in one transaction (the caller's,
        on its ``connection``, when given: the caller commits).

        Raises NotScoredError, recording nothing, when the window has no recent vital sign.
        """
        gap = vital_signs_gap(window, self.require_vitals_within_h)
        if gap is not None:
            raise NotScoredError(gap)
        previous = self.predictions.prior(
            window.patient_key, before=window.as_of, connection=connection
        )
        prediction = self.predict(window)

        def extra(prediction_id: int) -> list[Insert]:
            rows: list[Insert] = []
            if self.write_back:
                payload = prediction_payload(prediction)
                if fhir_patient_id:
                    payload["fhir_patient_id"] = fhir_patient_id
                if self.shadow:  # silent evaluation: the EHR gets preliminary assessments
                    payload["ra_status"] = "preliminary"
                rows.append(DbOutbox.row(RISK_KIND, payload, prediction_dedup_key(prediction)))
            if also is not None:
                rows.extend(also(prediction, previous, prediction_id))
            return rows

        prediction_id = self.predictions.record(
            prediction, trigger=trigger, also=extra, connection=connection
        )
        if log.isEnabledFor(logging.INFO):  # the pseudonym is a keyed hash: only when logged
            log.info(
                "scored %s: p=%.3f level=%s trigger=%s",
                self.pseudonymise(window.patient_key),
                prediction.probability,
                prediction.level.value,
                trigger,
            )
        return Scored(prediction, prediction_id, previous)
