"""The variable registry: each EHR variable VentFusion uses, with everything known about it.

Codes (LOINC and its display), canonical UCUM unit, molar mass, display precision and
plausible range live here only; the simulator, the feature builder, the card wording and the
FHIR mapping (inbound and export) read them (DESIGN §5). To add a variable, add a row here.
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
    """One EHR variable in its canonical unit: everything the project knows about it.

    ``loinc[0]`` is the code written (simulator export) and ``loinc_display`` its LOINC long
    name; every code in ``loinc`` is read. ``decimals`` is the precision a value is charted and
    shown with. ``molar_mass`` (g/mol) converts between mass (mg/dL) and substance (mmol/L,
    µmol/L) concentration; None: no such conversion. ``fraction_as_percent``: a 0-1 value under
    ``%`` is a fraction (FiO2 charted as 0.4).
    """

    name: str
    label: str
    loinc: tuple[str, ...]
    loinc_display: str
    unit: str
    display_unit: str
    category: Category
    plausible_min: float
    plausible_max: float
    decimals: int = 0
    molar_mass: float | None = None
    fraction_as_percent: bool = False


_VITAL, _LAB = Category.VITAL_SIGNS, Category.LABORATORY

VARIABLES: tuple[Variable, ...] = (
    Variable("heart_rate", "HR", ("8867-4",), "Heart rate", "/min", "/min", _VITAL, 10, 300),
    Variable("resp_rate", "RR", ("9279-1",), "Respiratory rate", "/min", "/min", _VITAL, 2, 80),
    Variable(
        "spo2",
        "SpO2",
        ("59408-5", "2708-6"),
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        "%",
        "%",
        _VITAL,
        30,
        100,
    ),
    Variable(
        "temperature",
        "Temp",
        ("8310-5",),
        "Body temperature",
        "Cel",
        "°C",
        _VITAL,
        25,
        45,
        decimals=1,
    ),
    Variable(
        "sbp", "SBP", ("8480-6",), "Systolic blood pressure", "mm[Hg]", "mmHg", _VITAL, 30, 300
    ),
    Variable(
        "dbp", "DBP", ("8462-4",), "Diastolic blood pressure", "mm[Hg]", "mmHg", _VITAL, 10, 200
    ),
    Variable("map", "MAP", ("8478-0",), "Mean blood pressure", "mm[Hg]", "mmHg", _VITAL, 20, 250),
    Variable(
        "fio2",
        "FiO2",
        ("3150-0",),
        "Inhaled oxygen concentration",
        "%",
        "%",
        _VITAL,
        21,
        100,
        fraction_as_percent=True,
    ),
    Variable(
        "o2_flow",
        "O2 flow",
        ("3151-8",),
        "Inhaled oxygen flow rate",
        "L/min",
        "L/min",
        _VITAL,
        0,
        80,
        decimals=1,
    ),
    Variable(
        "pao2",
        "PaO2",
        ("2703-7",),
        "Oxygen [Partial pressure] in Arterial blood",
        "mm[Hg]",
        "mmHg",
        _LAB,
        20,
        700,
    ),
    Variable(
        "paco2",
        "PaCO2",
        ("2019-8",),
        "Carbon dioxide [Partial pressure] in Arterial blood",
        "mm[Hg]",
        "mmHg",
        _LAB,
        10,
        200,
    ),
    Variable(
        "ph", "pH", ("2744-1",), "pH of Arterial blood", "[pH]", "", _LAB, 6.5, 8.0, decimals=2
    ),
    Variable(
        "lactate",
        "Lactate",
        ("2524-7", "32693-4", "2518-9"),
        "Lactate [Moles/volume] in Serum or Plasma",
        "mmol/L",
        "mmol/L",
        _LAB,
        0.1,
        40,
        decimals=1,
        molar_mass=90.08,
    ),
    Variable(
        "bicarbonate",
        "HCO3",
        ("1960-4", "1963-8"),
        "Bicarbonate [Moles/volume] in Arterial blood",
        "mmol/L",
        "mmol/L",
        _LAB,
        2,
        60,
    ),
    Variable(
        "gcs_total", "GCS", ("9269-2",), "Glasgow coma score total", "{score}", "", _VITAL, 3, 15
    ),
    Variable(
        "wbc",
        "WBC",
        ("6690-2",),
        "Leukocytes [#/volume] in Blood by Automated count",
        "10*3/uL",
        "×10³/µL",
        _LAB,
        0.1,
        200,
        decimals=1,
    ),
    Variable(
        "creatinine",
        "Creatinine",
        ("2160-0",),
        "Creatinine [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "mg/dL",
        _LAB,
        0.1,
        25,
        decimals=2,
        molar_mass=113.1,
    ),
)

VARIABLE_NAMES: tuple[str, ...] = tuple(v.name for v in VARIABLES)
BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}
BY_LOINC: dict[str, Variable] = {code: v for v in VARIABLES for code in v.loinc}

#: LOINC of the blood-pressure panel whose components carry sbp/dbp, and its display.
BP_PANEL_LOINC = "85354-9"
BP_PANEL_DISPLAY = "Blood pressure panel with all children optional"

#: SNOMED CT codes of the outcome.
VENTILATION_SNOMED = "40617009"  # Artificial respiration (procedure)
RESPIRATORY_FAILURE_SNOMED = ("409622000", "65710008")
