"""A simulated ward replayed into the demo EHR: history first, then live hours.

Each patient's timeline is anchored at ``anchor`` (2 h before intubation for ventilated patients,
else 60 h into the stay). The 48 h before ``anchor - live_h`` keep their real spacing and end now;
each live hour is then replayed in ``step_s`` wall seconds, its data stamped as it arrives.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dicom_listener.cohort_dicom_export import choose_modality, film_dataset, read_film_pixels
from fhir_adapter.cohort_fhir_export import build_observation, build_patient
from model.cohort import Cohort, CohortFilm, CohortPatient

JsonDict = dict[str, Any]
LOOKBACK = timedelta(hours=48)


@dataclass
class WardPatient:
    """One patient's replay state."""

    patient: CohortPatient
    fhir: JsonDict
    anchor: datetime
    ventilated: bool
    measurements: list[tuple[datetime, str, float]]
    films: list[CohortFilm]
    published: int = 0
    films_sent: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return self.patient.key

    @property
    def fhir_id(self) -> str:
        return str(self.fhir["id"])


@dataclass(frozen=True, slots=True)
class StepOutput:
    """What one replay step produced for the EHR and the PACS."""

    observations: list[JsonDict]
    films: list[tuple[WardPatient, Any]]  # (patient, pydicom Dataset)


class Ward:
    """Selects patients from a cohort and replays them in wall-clock time."""

    def __init__(self, cohort: Cohort, *, size: int, live_h: int, step_s: float) -> None:
        self.cohort = cohort
        self.live_h = live_h
        self.step_s = step_s
        by_key: dict[str, list[tuple[datetime, str, float]]] = defaultdict(list)
        for key, t, var, value in zip(
            cohort.m_key, cohort.m_time, cohort.m_variable, cohort.m_value, strict=True
        ):
            by_key[key].append((t, var, value))
        films: dict[str, list[CohortFilm]] = defaultdict(list)
        for film in cohort.films:
            if film.path.lower().endswith(".png"):
                films[film.key].append(film)
        ventilated = [p for p in cohort.patients if p.key in cohort.ventilation_start]
        others = [p for p in cohort.patients if p.key not in cohort.ventilation_start]
        chosen = (ventilated[: (size + 1) // 2] + others)[:size]
        self.patients = [
            self._patient(p, sorted(by_key[p.key]), sorted(films[p.key], key=lambda f: f.time))
            for p in chosen
        ]
        self._index = 0

    def _patient(
        self,
        patient: CohortPatient,
        measurements: list[tuple[datetime, str, float]],
        films: list[CohortFilm],
    ) -> WardPatient:
        vent = self.cohort.ventilation_start.get(patient.key)
        if vent is not None:
            anchor = vent - timedelta(hours=2)
        else:
            anchor = min(patient.stay_start + timedelta(hours=60), patient.stay_end)
        anchor = max(anchor, patient.stay_start + timedelta(hours=self.live_h + 1))
        return WardPatient(patient, build_patient(patient), anchor, vent is not None,
                           measurements, films)  # fmt: skip

    def _observation(
        self, wp: WardPatient, variable: str, value: float, when: datetime
    ) -> JsonDict:
        self._index += 1
        return build_observation(wp.key, self._index, variable, value, when)

    def _film(self, wp: WardPatient, film: CohortFilm, when: datetime) -> Any:
        pixels = read_film_pixels(self.cohort.root, film)
        moved = dataclasses.replace(film, time=when)
        wp.films_sent.add(film.sop_instance_uid)
        return film_dataset(
            pixels, moved, wp.patient, modality=choose_modality(film.sop_instance_uid)
        )

    def history(self, now: datetime) -> StepOutput:
        """The 48 h before the live phase, ending at ``now`` with real spacing."""
        observations: list[JsonDict] = []
        films: list[tuple[WardPatient, Any]] = []
        for wp in self.patients:
            end = wp.anchor - timedelta(hours=self.live_h)
            offset = now - end
            for t, variable, value in wp.measurements:
                if end - LOOKBACK <= t <= end:
                    observations.append(self._observation(wp, variable, value, t + offset))
            for film in wp.films:
                if end - timedelta(hours=72) <= film.time <= end:
                    films.append((wp, self._film(wp, film, film.time + offset)))
        return StepOutput(observations, films)

    def step(self, hour: int, now: datetime) -> StepOutput:
        """Live hour ``hour`` (1-based) replayed at ``now``, compressed into ``step_s`` seconds."""
        scale = self.step_s / 3600.0
        observations: list[JsonDict] = []
        films: list[tuple[WardPatient, Any]] = []
        for wp in self.patients:
            start = wp.anchor - timedelta(hours=self.live_h - hour + 1)
            stop = start + timedelta(hours=1)

            def wall(t: datetime, stop: datetime = stop) -> datetime:
                return now - (stop - t) * scale

            for t, variable, value in wp.measurements:
                if start < t <= stop:
                    observations.append(self._observation(wp, variable, value, wall(t)))
            for film in wp.films:
                if start < film.time <= stop and film.sop_instance_uid not in wp.films_sent:
                    films.append((wp, self._film(wp, film, wall(film.time))))
        return StepOutput(observations, films)


def prefetch_for(observations: list[JsonDict], patient: JsonDict, since: datetime) -> JsonDict:
    """The prefetch our service asks for: Patient, vitals and labs of the last 48 h."""
    ref = f"Patient/{patient['id']}"
    recent = [
        o for o in observations
        if o["subject"]["reference"] == ref and o.get("effectiveDateTime", "") >= since.isoformat()
    ]  # fmt: skip

    def bundle(category: str) -> JsonDict:
        chosen = [o for o in recent if o["category"][0]["coding"][0]["code"] == category]
        result: JsonDict = {"resourceType": "Bundle", "type": "searchset", "total": len(chosen)}
        if chosen:
            result["entry"] = [{"resource": o, "search": {"mode": "match"}} for o in chosen]
        return result

    return {"patient": patient, "vitals": bundle("vital-signs"), "labs": bundle("laboratory")}
