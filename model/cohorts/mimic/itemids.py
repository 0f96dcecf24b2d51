"""The MIMIC-IV items VentFusion reads, and how each maps to a variable of DESIGN §5.

This table is the single source of the mapping; docs/cohort-format.md ("MIMIC-IV") lists it.
Item ids and labels are those of MIMIC-IV's MetaVision ``icu/d_items`` and ``hosp/d_labitems``
(v2.x/3.x); the importer checks each label against the release's dictionaries and warns when one
differs. The cleaning rules follow the public MIT-LCP mimic-code concepts
(``mimic-iv/concepts/measurement/{vitalsign,bg,gcs,ventilator_setting}.sql``,
``treatment/{ventilation,code_status}.sql``); the code here is our own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Conversion(StrEnum):
    """How a charted number becomes the canonical unit of its variable."""

    NONE = "none"
    FAHRENHEIT = "degF"  # (°F - 32) / 1.8 -> °C
    FIO2 = "fio2"  # fraction 0.2–1 -> %, 20–100 kept, 1–20 rejected (an O2 flow in L/min)


@dataclass(frozen=True, slots=True)
class ChartItem:
    """A numeric ``chartevents`` item mapped to one variable."""

    itemid: int
    variable: str
    label: str  # d_items.label
    conversion: Conversion = Conversion.NONE


@dataclass(frozen=True, slots=True)
class LabItem:
    """A numeric ``labevents`` item mapped to one variable."""

    itemid: int
    variable: str
    label: str  # d_labitems.label
    arterial_only: bool = False  # blood-gas tension/pH: only specimens typed 'ART.'


CHART_ITEMS: tuple[ChartItem, ...] = (
    ChartItem(220045, "heart_rate", "Heart Rate"),
    ChartItem(220210, "resp_rate", "Respiratory Rate"),
    ChartItem(224690, "resp_rate", "Respiratory Rate (Total)"),
    ChartItem(220277, "spo2", "O2 saturation pulseoxymetry"),
    ChartItem(223761, "temperature", "Temperature Fahrenheit", Conversion.FAHRENHEIT),
    ChartItem(223762, "temperature", "Temperature Celsius"),
    ChartItem(220179, "sbp", "Non Invasive Blood Pressure systolic"),
    ChartItem(220180, "dbp", "Non Invasive Blood Pressure diastolic"),
    ChartItem(220181, "map", "Non Invasive Blood Pressure mean"),
    ChartItem(220050, "sbp", "Arterial Blood Pressure systolic"),
    ChartItem(220051, "dbp", "Arterial Blood Pressure diastolic"),
    ChartItem(220052, "map", "Arterial Blood Pressure mean"),
    ChartItem(225309, "sbp", "ART BP Systolic"),
    ChartItem(225310, "dbp", "ART BP Diastolic"),
    ChartItem(225312, "map", "ART BP Mean"),
    ChartItem(223835, "fio2", "Inspired O2 Fraction", Conversion.FIO2),
    ChartItem(223834, "o2_flow", "O2 Flow"),
    ChartItem(227582, "o2_flow", "BiPap O2 Flow"),
)

#: Laboratory results come from hosp/labevents (with the blood gas's specimen type).
LAB_ITEMS: tuple[LabItem, ...] = (
    LabItem(50821, "pao2", "pO2", arterial_only=True),
    LabItem(50818, "paco2", "pCO2", arterial_only=True),
    LabItem(50820, "ph", "pH", arterial_only=True),
    LabItem(50813, "lactate", "Lactate"),
    LabItem(50803, "bicarbonate", "Calculated Bicarbonate, Whole Blood"),
    LabItem(50882, "bicarbonate", "Bicarbonate"),
    LabItem(51301, "wbc", "White Blood Cells"),
    LabItem(51300, "wbc", "WBC Count"),
    LabItem(50912, "creatinine", "Creatinine"),
)

#: labevents item whose text value types a blood-gas specimen ('ART.', 'VEN.', 'MIX.', ...).
SPECIMEN_TYPE_ITEM = 52033
SPECIMEN_TYPE_LABEL = "Specimen Type"
ARTERIAL_SPECIMEN = "ART."

#: Used only when hosp/labevents is absent: the nurses' copies of lab results in chartevents.
CHART_LAB_FALLBACK: tuple[ChartItem, ...] = (
    ChartItem(220224, "pao2", "Arterial O2 pressure"),
    ChartItem(220235, "paco2", "Arterial CO2 Pressure"),
    ChartItem(223830, "ph", "PH (Arterial)"),
    ChartItem(225668, "lactate", "Lactic Acid"),
    ChartItem(227443, "bicarbonate", "HCO3 (serum)"),
    ChartItem(220546, "wbc", "WBC"),
    ChartItem(220615, "creatinine", "Creatinine (serum)"),
)

#: Glasgow Coma Scale components (MetaVision charts them separately): (itemid, label, max score).
GCS_EYE = (220739, "GCS - Eye Opening", 4)
GCS_VERBAL = (223900, "GCS - Verbal Response", 5)
GCS_MOTOR = (223901, "GCS - Motor Response", 6)
#: Verbal answers that mean "not testable, intubated" (MetaVision: 'No Response-ETT'; '1T' on
#: paper scales): the total is then not a number and is not derived.
GCS_VERBAL_INTUBATED_MARKERS = ("ett", "1t", "intubated", "trach")

# Ventilation (treatment/ventilation.sql): oxygen delivery device and ventilator modes.
O2_DEVICE_ITEM = (226732, "O2 Delivery Device(s)")
VENT_MODE_ITEM = (223849, "Ventilator Mode")
HAMILTON_MODE_ITEM = (229314, "Ventilator Mode (Hamilton)")
INVASIVE_VENTILATION_PROCEDURE = (225792, "Invasive Ventilation")
#: procedureevents rows with this status were replaced by a corrected row.
REWRITTEN_STATUS = "Rewritten"

INVASIVE_DEVICES = frozenset({"Endotracheal tube"})
TRACHEOSTOMY_DEVICES = frozenset({"Tracheostomy tube", "Trach mask"})
NIV_DEVICES = frozenset({"Bipap mask", "CPAP mask"})
HFNC_DEVICES = frozenset({"High flow nasal cannula"})
SUPPLEMENTAL_O2_DEVICES = frozenset(
    {
        "Non-rebreather", "Face tent", "Aerosol-cool", "Venti mask", "Medium conc mask",
        "Ultrasonic neb", "Vapomist", "Oxymizer", "High flow neb", "Nasal cannula",
    }
)  # fmt: skip
NO_DEVICE = frozenset({"None"})
INVASIVE_MODES = frozenset(
    {
        "(S) CMV", "APRV", "APRV/Biphasic+ApnPress", "APRV/Biphasic+ApnVol", "APV (cmv)",
        "Ambient", "Apnea Ventilation", "CMV", "CMV/ASSIST", "CMV/ASSIST/AutoFlow", "CMV/AutoFlow",
        "CPAP/PPS", "CPAP/PSV+Apn TCPL", "CPAP/PSV+ApnPres", "CPAP/PSV+ApnVol", "MMV",
        "MMV/AutoFlow", "MMV/PSV", "MMV/PSV/AutoFlow", "P-CMV", "PCV+", "PCV+/PSV", "PCV+Assist",
        "PRES/AC", "PRVC/AC", "PRVC/SIMV", "PSV/SBT", "SIMV", "SIMV/AutoFlow", "SIMV/PRES",
        "SIMV/PSV", "SIMV/PSV/AutoFlow", "SIMV/VOL", "SYNCHRON MASTER", "SYNCHRON SLAVE", "VOL/AC",
    }
)  # fmt: skip
INVASIVE_HAMILTON_MODES = frozenset(
    {"APRV", "APV (cmv)", "Ambient", "(S) CMV", "P-CMV", "SIMV", "APV (simv)", "P-SIMV", "VS",
     "ASV"}
)  # fmt: skip
NIV_HAMILTON_MODES = frozenset({"DuoPaP", "NIV", "NIV-ST"})
#: A gap this long between two charted rows of one status starts a new episode.
EPISODE_GAP_H = 14

# Code status: 223758 'Code Status' (values 'Full code', 'DNR (do not resuscitate)', 'DNR / DNI',
# 'DNI (do not intubate)', 'Comfort measures only') and, in later releases, 228687 with the
# 'DNAR (Do Not Attempt Resuscitation) [DNR] [/ DNI]' wording. Matched by words, case-insensitive.
CODE_STATUS_ITEMS = ((223758, "Code Status"), (228687, "Code status"))
DNI_WORDS = ("dni", "do not intubate")
COMFORT_WORDS = ("comfort",)
#: Code statuses that limit neither intubation nor treatment (recognised, not DNI).
NOT_LIMITING_WORDS = ("full code", "dnr", "dnar", "do not resuscitate", "do not attempt")


def chart_itemids(*, with_lab_fallback: bool) -> list[int]:
    """Every chartevents itemid the importer reads (numeric, GCS, ventilation, code status)."""
    items = [c.itemid for c in CHART_ITEMS]
    if with_lab_fallback:
        items += [c.itemid for c in CHART_LAB_FALLBACK]
    items += [GCS_EYE[0], GCS_VERBAL[0], GCS_MOTOR[0]]
    items += [O2_DEVICE_ITEM[0], VENT_MODE_ITEM[0], HAMILTON_MODE_ITEM[0]]
    items += [itemid for itemid, _ in CODE_STATUS_ITEMS]
    return sorted(set(items))


def lab_itemids() -> list[int]:
    """Every labevents itemid the importer reads (results and the blood-gas specimen type)."""
    return sorted({lab.itemid for lab in LAB_ITEMS} | {SPECIMEN_TYPE_ITEM})


def expected_chart_labels(*, with_lab_fallback: bool) -> dict[int, str]:
    """itemid -> expected ``d_items.label`` (checked against the release's dictionary)."""
    labels = {c.itemid: c.label for c in CHART_ITEMS}
    if with_lab_fallback:
        labels |= {c.itemid: c.label for c in CHART_LAB_FALLBACK}
    for itemid, label, *_ in (GCS_EYE, GCS_VERBAL, GCS_MOTOR):
        labels[itemid] = label
    for itemid, label in (O2_DEVICE_ITEM, VENT_MODE_ITEM, HAMILTON_MODE_ITEM, *CODE_STATUS_ITEMS):
        labels[itemid] = label
    labels[INVASIVE_VENTILATION_PROCEDURE[0]] = INVASIVE_VENTILATION_PROCEDURE[1]
    return labels


def expected_lab_labels() -> dict[int, str]:
    """itemid -> expected ``d_labitems.label``."""
    return {lab.itemid: lab.label for lab in LAB_ITEMS} | {SPECIMEN_TYPE_ITEM: SPECIMEN_TYPE_LABEL}
