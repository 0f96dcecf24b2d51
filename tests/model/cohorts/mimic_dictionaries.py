"""``d_items`` / ``d_labitems`` rows of the fixture (labels as in MIMIC-IV's MetaVision release)."""

from __future__ import annotations

_VS = "Routine Vital Signs"
_CHART = [
    (220045, "Heart Rate", "HR", _VS, "bpm", "Numeric"),
    (220210, "Respiratory Rate", "RR", "Respiratory", "insp/min", "Numeric"),
    (224690, "Respiratory Rate (Total)", "RR (Total)", "Respiratory", "insp/min", "Numeric"),
    (220277, "O2 saturation pulseoxymetry", "SpO2", "Respiratory", "%", "Numeric"),
    (223761, "Temperature Fahrenheit", "Temperature F", _VS, "°F", "Numeric"),
    (223762, "Temperature Celsius", "Temperature C", _VS, "°C", "Numeric"),
    (220179, "Non Invasive Blood Pressure systolic", "NBPs", _VS, "mmHg", "Numeric"),
    (220180, "Non Invasive Blood Pressure diastolic", "NBPd", _VS, "mmHg", "Numeric"),
    (220181, "Non Invasive Blood Pressure mean", "NBPm", _VS, "mmHg", "Numeric"),
    (220050, "Arterial Blood Pressure systolic", "ABPs", _VS, "mmHg", "Numeric"),
    (220051, "Arterial Blood Pressure diastolic", "ABPd", _VS, "mmHg", "Numeric"),
    (220052, "Arterial Blood Pressure mean", "ABPm", _VS, "mmHg", "Numeric"),
    (225309, "ART BP Systolic", "ART BP Systolic", _VS, "mmHg", "Numeric"),
    (225310, "ART BP Diastolic", "ART BP Diastolic", _VS, "mmHg", "Numeric"),
    (225312, "ART BP Mean", "ART BP Mean", _VS, "mmHg", "Numeric"),
    (223835, "Inspired O2 Fraction", "FiO2", "Respiratory", None, "Numeric"),
    (223834, "O2 Flow", "O2 Flow", "Respiratory", "L/min", "Numeric"),
    (227582, "BiPap O2 Flow", "BiPap O2 Flow", "Respiratory", "L/min", "Numeric"),
    (220739, "GCS - Eye Opening", "GCS - Eye Opening", "Neurological", None, "Text"),
    (223900, "GCS - Verbal Response", "GCS - Verbal Response", "Neurological", None, "Text"),
    (223901, "GCS - Motor Response", "GCS - Motor Response", "Neurological", None, "Text"),
    (226732, "O2 Delivery Device(s)", "O2 Delivery Device(s)", "Respiratory", None, "Text"),
    (223849, "Ventilator Mode", "Ventilator Mode", "Respiratory", None, "Text"),
    (229314, "Ventilator Mode (Hamilton)", "Vent Mode (Hamilton)", "Respiratory", None, "Text"),
    (223758, "Code Status", "Code Status", "ADT", None, "Text"),
    (228687, "Code status", "Code status", "Adm History/FHPA", None, "Text"),
    (220048, "Heart Rhythm", "Heart Rhythm", _VS, None, "Text"),
    (220224, "Arterial O2 pressure", "PO2 (Arterial)", "Labs", "mmHg", "Numeric"),
    (220235, "Arterial CO2 Pressure", "PCO2 (Arterial)", "Labs", "mmHg", "Numeric"),
    (223830, "PH (Arterial)", "PH (Arterial)", "Labs", "units", "Numeric"),
    (225668, "Lactic Acid", "Lactic Acid", "Labs", "mmol/L", "Numeric"),
    (227443, "HCO3 (serum)", "HCO3 (serum)", "Labs", "mEq/L", "Numeric"),
    (220546, "WBC", "WBC", "Labs", "K/uL", "Numeric"),
    (220615, "Creatinine (serum)", "Creatinine (serum)", "Labs", "mg/dL", "Numeric"),
]  # fmt: skip
_PROCEDURES = [
    (225792, "Invasive Ventilation", "Invasive Ventilation", "Ventilation", None, "Process"),
    (225794, "Non-invasive Ventilation", "NIV", "Ventilation", None, "Process"),
]  # fmt: skip
D_ITEMS = [
    [i, label, abbr, "chartevents", cat, unit, param, None, None]
    for i, label, abbr, cat, unit, param in _CHART
] + [
    [i, label, abbr, "procedureevents", cat, unit, param, None, None]
    for i, label, abbr, cat, unit, param in _PROCEDURES
]
D_LABITEMS = [
    [50821, "pO2", "Blood", "Blood Gas"],
    [50818, "pCO2", "Blood", "Blood Gas"],
    [50820, "pH", "Blood", "Blood Gas"],
    [50813, "Lactate", "Blood", "Blood Gas"],
    [50803, "Calculated Bicarbonate, Whole Blood", "Blood", "Blood Gas"],
    [52033, "Specimen Type", "Blood", "Blood Gas"],
    [50882, "Bicarbonate", "Blood", "Chemistry"],
    [50912, "Creatinine", "Blood", "Chemistry"],
    [51301, "White Blood Cells", "Blood", "Hematology"],
    [51300, "WBC Count", "Blood", "Hematology"],
    [50931, "Glucose", "Blood", "Chemistry"],
]
