"""Bulk FHIR NDJSON (``$export`` output) -> a cohort directory for training (DESIGN §6).

Files are read in the order Patient, Encounter, Procedure, then the rest, streaming line by line;
Observations whose Patient appears later are held back until the end. Patients are keyed as
``system|value`` of their identifier in the MRN system (value = the DICOM PatientID).
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from fhir_adapter.codes import CodeTable
from fhir_adapter.errors import MappingError
from fhir_adapter.observation_mapping import map_observation
from fhir_adapter.patient_mapping import birth_date, gender, patient_key
from fhir_adapter.procedure_mapping import (
    VentilationCodes,
    encounter_period,
    ventilation_event,
)
from fhir_adapter.resources import (
    Encounter,
    Observation,
    Patient,
    Procedure,
    Rejected,
    ResourceHeader,
    decode,
    decode_resource,
)
from fhir_adapter.values import local_ref
from model.age import completed_years
from model.cohort import (
    EVENT_COLUMNS,
    FILM_COLUMNS,
    MEASUREMENT_COLUMNS,
    PATIENT_COLUMNS,
    write_meta,
)
from model.schemas import PatientKey

logger = logging.getLogger(__name__)
_ORDER = ("Patient", "Encounter", "Procedure")
SYNTHETIC_TAGS = frozenset({"synthetic", "HTEST"})  # ours; HL7 v3 ActReason "test health data"
MAX_LINE_BYTES = 16 * 1024 * 1024  # one resource per line; far above any real Observation
_MODELS: dict[str, type[Patient | Encounter | Procedure | Observation]] = {
    "Patient": Patient,
    "Encounter": Encounter,
    "Procedure": Procedure,
    "Observation": Observation,
}


@dataclass(slots=True)
class BulkReport:
    """Counts of one bulk import; ``rejected`` counts reasons for unused resources."""

    files: int = 0
    resources: int = 0
    malformed_lines: int = 0
    patients: int = 0
    observations: int = 0
    measurements: int = 0
    ventilation_events: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class _PatientInfo:
    key: PatientKey
    born: date | None
    sex: str | None
    start: datetime | None = None
    end: datetime | None = None
    first: datetime | None = None
    last: datetime | None = None
    vent: datetime | None = None


def _file_rank(path: Path) -> tuple[int, str]:
    for rank, name in enumerate(_ORDER):
        if name in path.name:
            return rank, path.name
    return len(_ORDER), path.name


def _age(born: date | None, at: datetime) -> str:
    years = completed_years(born, at)  # a future or > 120-year-old birth date: unknown
    return "" if years is None else str(years)


class _Importer:
    def __init__(self, mrn_system: str, codes: CodeTable, vent: VentilationCodes, out: Any):
        self.mrn_system = mrn_system
        self.codes = codes
        self.vent = vent
        self.writer = csv.writer(out)
        self.patients: dict[str, _PatientInfo] = {}
        self.pending: list[Observation] = []
        self.seen_sources: set[str] = set()
        self.report = BulkReport()
        self.synthetic_tag = False

    def line(self, line: bytes) -> None:
        """One NDJSON line: decoded on its own; a bad one is one counted rejection."""
        try:
            header = decode(line, ResourceHeader)
        except (msgspec.ValidationError, msgspec.DecodeError):
            self.report.malformed_lines += 1
            return
        self.report.resources += 1
        model = _MODELS.get(header.resourceType)
        if model is None:
            return  # a type the cohort does not use (Condition, ImagingStudy, ...)
        resource = decode_resource(line, model)
        if isinstance(resource, Rejected):
            self.report.rejected[_reason(resource.reason)] += 1
        elif isinstance(resource, Patient):
            self.patient(resource)
        elif isinstance(resource, Encounter):
            self._encounter(resource)
        elif isinstance(resource, Procedure):
            event = ventilation_event(resource, self.vent)
            info = self.patients.get(event.patient_ref) if event else None
            if event is not None and info is not None:
                info.vent = event.start if info.vent is None else min(info.vent, event.start)
        elif isinstance(resource, Observation):
            self.observation(resource, final=False)

    def patient(self, res: Patient) -> None:
        tags = res.meta.tag if res.meta else ()
        self.synthetic_tag |= any(t.code in SYNTHETIC_TAGS for t in tags)
        key = patient_key(res, self.mrn_system)
        if key is None:
            self.report.rejected["patient without MRN"] += 1
            return
        self.patients[f"Patient/{res.id}"] = _PatientInfo(key, birth_date(res), gender(res))

    def _encounter(self, res: Encounter) -> None:
        found = encounter_period(res)
        info = self.patients.get(found[0]) if found else None
        if found is None or info is None:
            return
        _, start, end = found
        info.start = start if info.start is None else min(info.start, start)
        if end is not None:
            info.end = end if info.end is None else max(info.end, end)

    def observation(self, obs: Observation, *, final: bool) -> None:
        subject = local_ref(obs.subject.reference if obs.subject else None)
        info = self.patients.get(subject or "")
        if info is None:
            if final:
                self.report.rejected["observation of an unknown patient"] += 1
            else:
                self.pending.append(obs)
            return
        self.report.observations += 1
        mapping = map_observation(obs, info.key, self.codes)
        for reason in mapping.rejected:
            self.report.rejected[_reason(reason)] += 1
        for m in mapping.measurements:
            if m.source_id in self.seen_sources:
                continue
            self.seen_sources.add(m.source_id)
            self.writer.writerow((str(info.key), m.time.isoformat(), m.variable, f"{m.value:.6g}"))
            self.report.measurements += 1
            info.first = m.time if info.first is None else min(info.first, m.time)
            info.last = m.time if info.last is None else max(info.last, m.time)


def _reason(text: str) -> str:
    """A rejection reason as a counter key: the part after the field name, bounded."""
    return text.split(":")[-1].strip()[:60] if not text.startswith("invalid ") else text[:80]


def _lines(handle: BinaryIO, limit: int) -> Iterator[bytes | None]:
    """The lines of ``handle``; None for a line longer than ``limit`` (skipped unread)."""
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line


def _read_lines(path: Path, importer: _Importer, max_line_bytes: int) -> None:
    with path.open("rb") as handle:
        for number, line in enumerate(_lines(handle, max_line_bytes), 1):
            if line is None:
                importer.report.malformed_lines += 1
                logger.warning("%s:%d is longer than %d bytes; skipped", path.name, number,
                               max_line_bytes)  # fmt: skip
            elif line.strip():
                before = importer.report.malformed_lines
                importer.line(line)
                if importer.report.malformed_lines > before:
                    logger.warning("%s:%d is not a JSON resource; skipped", path.name, number)


def import_ndjson(
    src: Path,
    dest: Path,
    *,
    mrn_system: str,
    codes: CodeTable | None = None,
    ventilation_codes: VentilationCodes | None = None,
    synthetic: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> BulkReport:
    """Import every ``*.ndjson`` under ``src`` into the cohort directory ``dest``.

    The cohort is marked synthetic when ``synthetic`` is set or a Patient carries a synthetic
    ``meta.tag`` (the simulator's export does). Films are not imported: they arrive as DICOM.
    Each line is decoded on its own: a malformed or invalid one is counted and skipped, and a
    line over ``max_line_bytes`` is skipped without being held in memory.
    """
    files = sorted(src.glob("**/*.ndjson"), key=_file_rank)
    if not files:
        raise MappingError(f"no .ndjson files under {src}")
    dest.mkdir(parents=True, exist_ok=True)
    with (dest / "measurements.csv").open("w", newline="") as out:
        importer = _Importer(
            mrn_system, codes or CodeTable(), ventilation_codes or VentilationCodes(), out
        )
        importer.writer.writerow(MEASUREMENT_COLUMNS)
        for path in files:
            importer.report.files += 1
            _read_lines(path, importer, max_line_bytes)
        for obs in importer.pending:
            importer.observation(obs, final=True)
    report = importer.report
    with (dest / "patients.csv").open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(PATIENT_COLUMNS)
        for info in importer.patients.values():
            start = info.start or info.first
            end = info.end or info.last or start
            if start is None or end is None:
                report.rejected["patient without stay or data"] += 1
                continue
            rows.writerow(
                (
                    str(info.key),
                    _age(info.born, start),
                    info.sex or "",
                    start.isoformat(),
                    end.isoformat(),
                )
            )
            report.patients += 1
    with (dest / "events.csv").open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(EVENT_COLUMNS)
        for info in importer.patients.values():
            if info.vent is not None:
                rows.writerow((str(info.key), info.vent.isoformat()))
                report.ventilation_events += 1
    if not (dest / "films.csv").exists():
        with (dest / "films.csv").open("w", newline="") as out:
            csv.writer(out).writerow(FILM_COLUMNS)
    write_meta(
        dest,
        synthetic=synthetic or importer.synthetic_tag,
        source="fhir-bulk-import",
        mrn_system=mrn_system,
    )
    return report
