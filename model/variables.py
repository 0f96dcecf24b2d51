"""The EHR variables VentFusion uses, their canonical UCUM units, LOINC codes and plausible ranges.

This table is the single source of truth shared by the simulator, the feature builder and the
FHIR mapping (DESIGN §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    """FHIR Observation category of a variable."""

    VITAL_SIGNS = "vital-signs"
    LABORATORY = "laboratory"


@dataclass(frozen=True, slots=True)
class Variable:
    """One EHR variable in its canonical unit."""

    name: str
    label: str
    loinc: tuple[str, ...]
    unit: str
    display_unit: str
    category: Category
    plausible_min: float
    plausible_max: float


VARIABLES: tuple[Variable, ...] = (
    Variable("heart_rate", "HR", ("8867-4",), "/min", "/min", Category.VITAL_SIGNS, 10, 300),
    Variable("resp_rate", "RR", ("9279-1",), "/min", "/min", Category.VITAL_SIGNS, 2, 80),
    Variable("spo2", "SpO2", ("59408-5", "2708-6"), "%", "%", Category.VITAL_SIGNS, 30, 100),
    Variable("temperature", "Temp", ("8310-5",), "Cel", "°C", Category.VITAL_SIGNS, 25, 45),
    Variable("sbp", "SBP", ("8480-6",), "mm[Hg]", "mmHg", Category.VITAL_SIGNS, 30, 300),
    Variable("dbp", "DBP", ("8462-4",), "mm[Hg]", "mmHg", Category.VITAL_SIGNS, 10, 200),
    Variable("map", "MAP", ("8478-0",), "mm[Hg]", "mmHg", Category.VITAL_SIGNS, 20, 250),
    Variable("fio2", "FiO2", ("3150-0",), "%", "%", Category.VITAL_SIGNS, 21, 100),
    Variable("o2_flow", "O2 flow", ("3151-8",), "L/min", "L/min", Category.VITAL_SIGNS, 0, 80),
    Variable("pao2", "PaO2", ("2703-7",), "mm[Hg]", "mmHg", Category.LABORATORY, 20, 700),
    Variable("paco2", "PaCO2", ("2019-8",), "mm[Hg]", "mmHg", Category.LABORATORY, 10, 200),
    Variable("ph", "pH", ("2744-1",), "[pH]", "", Category.LABORATORY, 6.5, 8.0),
    Variable(
        "lactate",
        "Lactate",
        ("2524-7", "32693-4", "2518-9"),
        "mmol/L",
        "mmol/L",
        Category.LABORATORY,
        0.1,
        40,
    ),
    Variable(
        "bicarbonate", "HCO3", ("1960-4", "1963-8"), "mmol/L", "mmol/L", Category.LABORATORY, 2, 60
    ),
    Variable("gcs_total", "GCS", ("9269-2",), "{score}", "", Category.VITAL_SIGNS, 3, 15),
    Variable("wbc", "WBC", ("6690-2",), "10*3/uL", "×10³/µL", Category.LABORATORY, 0.1, 200),
    Variable(
        "creatinine", "Creatinine", ("2160-0",), "mg/dL", "mg/dL", Category.LABORATORY, 0.1, 25
    ),
)

VARIABLE_NAMES: tuple[str, ...] = tuple(v.name for v in VARIABLES)
BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}
BY_LOINC: dict[str, Variable] = {code: v for v in VARIABLES for code in v.loinc}

#: LOINC of the blood-pressure panel whose components carry sbp/dbp.
BP_PANEL_LOINC = "85354-9"

#: SNOMED CT codes of the outcome.
VENTILATION_SNOMED = "40617009"  # Artificial respiration (procedure)
RESPIRATORY_FAILURE_SNOMED = ("409622000", "65710008")
