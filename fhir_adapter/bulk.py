"""Bulk FHIR NDJSON (``$export`` output) -> a cohort directory for training (DESIGN §6).

Files are read in the order Patient, Encounter, Procedure, then the rest, streaming line by line
(memory is bounded by the number of Patients, not of Observations): an Observation whose Patient
appears later is spooled to a temporary file as its raw line and read again at the end. Patients
are keyed as ``system|value`` of their identifier in the MRN system (value = the DICOM PatientID);
the identifier systems found are counted so that a wrong ``mrn_system`` is explained. The complete
rejection summary is written beside the cohort (``fhir_adapter.bulk_summary``).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

import msgspec

from fhir_adapter.bulk_summary import NO_SYSTEM, SUMMARY_FILE, BulkReport, rejection_key
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
        self.unkeyed: set[str] = set()  # Patients read without an identifier in the MRN system
        # Observations of a Patient not read yet, as raw lines (read again at the end)
        self.pending: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by import_ndjson)
        self.pending_count = 0
        self.seen_sources: set[bytes] = set()  # 16-byte digests of the measurement source ids
        self.report = BulkReport(mrn_system=mrn_system)
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
            self.report.reject(*_reason(resource.reason))
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
            self.observation(resource, line, final=False)

    def patient(self, res: Patient) -> None:
        tags = res.meta.tag if res.meta else ()
        self.synthetic_tag |= any(t.code in SYNTHETIC_TAGS for t in tags)
        self.report.patients_read += 1
        systems = {ident.system or NO_SYSTEM for ident in res.identifier if ident.value}
        self.report.identifier_systems.update(systems)
        key = patient_key(res, self.mrn_system)
        if key is None:
            self.report.reject("patient without MRN")
            self.unkeyed.add(f"Patient/{res.id}")
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

    def observation(self, obs: Observation, line: bytes, *, final: bool) -> None:
        subject = local_ref(obs.subject.reference if obs.subject else None) or ""
        info = self.patients.get(subject)
        if info is None:
            if subject in self.unkeyed:
                self.report.reject("observation of a patient without MRN")
            elif final or not subject:
                self.report.reject("observation of an unknown patient")
            else:
                self.pending.write(line if line.endswith(b"\n") else line + b"\n")
                self.pending_count += 1
            return
        self.report.observations += 1
        mapping = map_observation(obs, info.key, self.codes)
        for reason in mapping.rejected:
            self.report.reject(*_reason(reason))
            if reason == "no mapped code":
                self.report.unmapped_codes[_first_code(obs)] += 1
        for m in mapping.measurements:
            digest = hashlib.blake2b(m.source_id.encode(), digest_size=16).digest()
            if digest in self.seen_sources:
                continue
            self.seen_sources.add(digest)
            self.writer.writerow((str(info.key), m.time.isoformat(), m.variable, f"{m.value:.6g}"))
            self.report.measurements += 1
            info.first = m.time if info.first is None else min(info.first, m.time)
            info.last = m.time if info.last is None else max(info.last, m.time)

    def finish(self) -> None:
        """Read the spooled Observations again now that every Patient is known."""
        self.pending.seek(0)
        for line in self.pending:
            resource = decode_resource(line, Observation)
            if isinstance(resource, Observation):
                self.observation(resource, line, final=True)


def _first_code(obs: Observation) -> str:
    coding = obs.code.coding if obs.code else []
    return f"{coding[0].system or ''}|{coding[0].code or ''}" if coding else "(no coding)"


def _reason(text: str) -> tuple[str, str]:
    """``(reason, variable)`` of a rejection (the argument order of ``BulkReport.reject``)."""
    variable, reason = rejection_key(text)
    return reason, variable


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
        try:
            for path in files:
                importer.report.files += 1
                _read_lines(path, importer, max_line_bytes)
            importer.finish()
        finally:
            importer.pending.close()
    report = importer.report
    with (dest / "patients.csv").open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(PATIENT_COLUMNS)
        for info in importer.patients.values():
            start = info.start or info.first
            end = info.end or info.last or start
            if start is None or end is None:
                report.reject("patient without stay or data")
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
    report.write(dest / SUMMARY_FILE)
    return report
