"""Which coded Observation maps to which variable: DESIGN §5 LOINC table + local codes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fhir_adapter.errors import MappingError
from fhir_adapter.search import token
from model.variables import BP_PANEL_LOINC, BY_LOINC, BY_NAME

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True, slots=True)
class CodeTable:
    """Maps ``(system, code)`` to a variable name; LOINC from model.variables plus local codes."""

    local: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def variable_for(self, system: str | None, code: str | None) -> str | None:
        """The variable for one coding, or None when the code is not one we use."""
        if not code:
            return None
        if system == LOINC:
            found = BY_LOINC.get(code)
            if found is not None:
                return found.name
        return self.local.get((system or "", code))

    def is_bp_panel(self, system: str | None, code: str | None) -> bool:
        """True for the LOINC blood-pressure panel whose components carry sbp/dbp."""
        return system == LOINC and code == BP_PANEL_LOINC

    def query_codes(self) -> list[str]:
        """``system|code`` tokens of every mapped code (for ``code=`` searches)."""
        tokens = [token(LOINC, code) for code in BY_LOINC]
        tokens.append(token(LOINC, BP_PANEL_LOINC))
        tokens.extend(token(system, code) for system, code in self.local)
        return tokens


def load_code_table(path: Path | None) -> CodeTable:
    """Read a local-code table: a JSON list of ``{"system", "code", "variable"}`` objects."""
    if path is None:
        return CodeTable()
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MappingError(f"cannot read local code table {path}: {exc}") from exc
    local: dict[tuple[str, str], str] = {}
    if not isinstance(rows, list):
        raise MappingError(f"{path}: expected a JSON list of code mappings")
    for row in rows:
        if not isinstance(row, dict) or not {"system", "code", "variable"} <= row.keys():
            raise MappingError(f"{path}: each entry needs system, code and variable: {row!r}")
        if row["variable"] not in BY_NAME:
            raise MappingError(f"{path}: unknown variable {row['variable']!r}")
        local[(str(row["system"]), str(row["code"]))] = str(row["variable"])
    return CodeTable(local=local)
