"""What one bulk import read, wrote and left out: counts, the complete rejection summary
(total, per variable, per reason) and the Patient identifier systems found.

The summary is written beside the cohort (``import-summary.json``, the name the MIMIC importer
uses too) and its top lines are printed by ``ventfusion fhir-import``. Rejection reasons are
value-free ("outside the physiological range [10, 200] mm[Hg]", not "5 mm[Hg] is outside ..."),
so one problem is one line however many values it hit.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from model.variables import BY_NAME

SUMMARY_FILE = "import-summary.json"
NO_VARIABLE = "-"  # a rejection that is not about one variable (status, time, code, patient)
NO_SYSTEM = "(no system)"
_RANGE = re.compile(r"^\S+ (\S+) is outside the physiological range (\[[^\]]*\])$")


def rejection_key(text: str) -> tuple[str, str]:
    """``(variable, reason)`` of a mapping rejection, the value left out of the reason."""
    if text.startswith("invalid "):
        return NO_VARIABLE, text[:100]
    name, sep, rest = text.partition(": ")
    if not sep or name not in BY_NAME:
        return NO_VARIABLE, text[:100]
    found = _RANGE.match(rest)
    if found:
        return name, f"outside the physiological range {found.group(2)} {found.group(1)}"
    return name, rest[:100]


@dataclass(slots=True)
class BulkReport:
    """Counts of one bulk import. ``rejections`` is keyed ``(variable, reason)`` (variable
    ``"-"`` when the reason is not about one variable); ``identifier_systems`` counts, per
    system, the Patients that carry an identifier in it."""

    mrn_system: str = ""
    files: int = 0
    resources: int = 0
    malformed_lines: int = 0
    patients_read: int = 0
    patients: int = 0
    observations: int = 0
    measurements: int = 0
    ventilation_events: int = 0
    rejections: Counter[tuple[str, str]] = field(default_factory=Counter)
    identifier_systems: Counter[str] = field(default_factory=Counter)
    unmapped_codes: Counter[str] = field(default_factory=Counter)

    def reject(self, reason: str, variable: str = NO_VARIABLE, n: int = 1) -> None:
        self.rejections[(variable, reason)] += n

    @property
    def rejected(self) -> Counter[str]:
        """Rejections per reason (all variables together)."""
        out: Counter[str] = Counter()
        for (_, reason), n in self.rejections.items():
            out[reason] += n
        return out

    @property
    def rejected_by_variable(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (variable, _), n in self.rejections.items():
            out[variable] += n
        return out

    @property
    def total_rejected(self) -> int:
        return sum(self.rejections.values())

    @property
    def empty(self) -> bool:
        """No patient or no measurement: nothing training could learn from."""
        return self.patients == 0 or self.measurements == 0

    def suggested_system(self) -> str | None:
        """The identifier system most Patients carry, when it is not the one asked for."""
        systems = [(s, n) for s, n in self.identifier_systems.most_common() if s != NO_SYSTEM]
        if not systems or systems[0][0] == self.mrn_system:
            return None
        return systems[0][0]

    def as_json(self) -> dict[str, object]:
        return {
            "mrn_system": self.mrn_system,
            "files": self.files,
            "resources": self.resources,
            "malformed_lines": self.malformed_lines,
            "patients_read": self.patients_read,
            "patients": self.patients,
            "observations": self.observations,
            "measurements": self.measurements,
            "ventilation_events": self.ventilation_events,
            "rejected_total": self.total_rejected,
            "rejected_by_variable": dict(self.rejected_by_variable.most_common()),
            "rejected_by_reason": dict(self.rejected.most_common()),
            "rejections": [
                {"variable": v, "reason": r, "count": n}
                for (v, r), n in self.rejections.most_common()
            ],
            "identifier_systems": dict(self.identifier_systems.most_common()),
            "unmapped_codes": dict(self.unmapped_codes.most_common()),
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")

    def identifier_hint(self) -> list[str]:
        """Why Patients had no key, with the systems found and the option to use."""
        missing = self.rejections.get((NO_VARIABLE, "patient without MRN"), 0)
        if not missing:
            return []
        found = ", ".join(f"{s} ({n} patients)" for s, n in self.identifier_systems.most_common(5))
        out = [
            f"{missing} of {self.patients_read} Patients have no identifier in the MRN system "
            f"{self.mrn_system!r}; identifier systems found: {found or 'none'}"
        ]
        suggested = self.suggested_system()
        if suggested:
            out.append(f"  use --mrn-system {suggested} (the system most Patients carry)")
        return out

    def lines(self, top: int = 10) -> list[str]:
        """A readable summary: the counts, the identifier hint, the top rejections."""
        out = [
            f"{self.patients} patients, {self.measurements} measurements from "
            f"{self.observations} observations, {self.ventilation_events} ventilation starts, "
            f"{self.malformed_lines} malformed lines"
        ]
        out += self.identifier_hint()
        total, groups = self.total_rejected, len(self.rejections)
        out.append(f"not used: {total} in {groups} (variable, reason) groups")
        by_variable = self.rejected_by_variable.most_common()
        if by_variable:
            out.append("  per variable: " + ", ".join(f"{_label(v)} {n}" for v, n in by_variable))
        for (variable, reason), n in self.rejections.most_common(top):
            out.append(
                f"  {n} x {reason}" if variable == NO_VARIABLE else f"  {n} x {variable}: {reason}"
            )
        if groups > top:
            out.append(f"  ... {groups - top} more groups in {SUMMARY_FILE}")
        return out


def _label(variable: str) -> str:
    return "(no variable)" if variable == NO_VARIABLE else variable
