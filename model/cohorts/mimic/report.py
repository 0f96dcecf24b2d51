"""What one MIMIC import read, wrote and left out (printed by the CLI, saved beside the cohort)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path

SUMMARY_FILE = "import-summary.json"


@dataclass(slots=True)
class MimicImportReport:
    """Counts of one import. ``rejected`` is keyed ``"variable: reason"``."""

    release: str = ""
    tables_read: dict[str, str] = field(default_factory=dict)
    tables_absent: list[str] = field(default_factory=list)
    tables_not_used: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stays_in_source: int = 0
    stays: int = 0
    stays_excluded: Counter[str] = field(default_factory=Counter)
    measurements: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    ventilated: int = 0
    ventilation_sources: Counter[str] = field(default_factory=Counter)
    ventilated_on_arrival: int = 0
    dni: int = 0
    code_status_values: Counter[str] = field(default_factory=Counter)
    films: int = 0
    stays_with_films: int = 0
    films_rejected: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def measurement_rows(self) -> int:
        return sum(self.measurements.values())

    @property
    def empty(self) -> bool:
        """No stay or no measurement: nothing training could learn from."""
        return self.stays == 0 or self.measurement_rows == 0

    def as_json(self) -> dict[str, object]:
        """Plain JSON values (counters as dicts, most frequent first)."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = dict(value.most_common()) if isinstance(value, Counter) else value
        out["measurement_rows"] = self.measurement_rows
        return out

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")

    def lines(self, top: int = 12) -> list[str]:
        """A readable summary: what was read, written and not used (most frequent first)."""
        out = [f"MIMIC-IV {self.release}: {len(self.tables_read)} tables read"]
        out += [f"  read {name}: {path}" for name, path in sorted(self.tables_read.items())]
        out += [f"  absent (optional): {name}" for name in self.tables_absent]
        if self.tables_not_used:
            out.append(f"  present, not used: {', '.join(self.tables_not_used)}")
        out += [f"warning: {w}" for w in self.warnings]
        out.append(
            f"{self.stays} ICU stays of {self.stays_in_source}; "
            f"{self.measurement_rows} measurements; {self.ventilated} ventilation starts "
            f"({_pairs(self.ventilation_sources)}), {self.ventilated_on_arrival} of them before "
            f"the first prediction hour; {self.dni} stays do-not-intubate / comfort care; "
            f"{self.films} films in {self.stays_with_films} stays"
        )
        out += [f"  stays not used: {n} x {why}" for why, n in self.stays_excluded.most_common()]
        out.append("  measurements: " + _pairs(self.measurements))
        total = sum(self.rejected.values())
        out.append(f"  values not used: {total} in {len(self.rejected)} (variable: reason) groups")
        out += [f"    {n} x {why}" for why, n in self.rejected.most_common(top)]
        if len(self.rejected) > top:
            out.append(f"    ... {len(self.rejected) - top} more groups in {SUMMARY_FILE}")
        out += [f"  films not used: {n} x {why}" for why, n in self.films_rejected.most_common()]
        if self.code_status_values:
            out.append("  code status values seen: " + _pairs(self.code_status_values))
        out.append(f"  {self.seconds:.1f} s")
        return out


def _pairs(counts: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.most_common()) or "none"
