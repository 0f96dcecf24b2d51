"""The official column layouts of the MIMIC-IV v2.2/3.x and MIMIC-CXR-JPG 2.x files the importer
reads (mimic-code's buildmimic schemas; PhysioNet's MIMIC-IV and MIMIC-CXR-JPG documentation)."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Sequence
from pathlib import Path

LAYOUTS: dict[str, tuple[str, ...]] = {
    "hosp/patients": (
        "subject_id", "gender", "anchor_age", "anchor_year", "anchor_year_group", "dod",
    ),
    "hosp/admissions": (
        "subject_id", "hadm_id", "admittime", "dischtime", "deathtime", "admission_type",
        "admit_provider_id", "admission_location", "discharge_location", "insurance", "language",
        "marital_status", "race", "edregtime", "edouttime", "hospital_expire_flag",
    ),
    "hosp/labevents": (
        "labevent_id", "subject_id", "hadm_id", "specimen_id", "itemid", "order_provider_id",
        "charttime", "storetime", "value", "valuenum", "valueuom", "ref_range_lower",
        "ref_range_upper", "flag", "priority", "comments",
    ),
    "hosp/d_labitems": ("itemid", "label", "fluid", "category"),
    "icu/icustays": (
        "subject_id", "hadm_id", "stay_id", "first_careunit", "last_careunit", "intime", "outtime",
        "los",
    ),
    "icu/chartevents": (
        "subject_id", "hadm_id", "stay_id", "caregiver_id", "charttime", "storetime", "itemid",
        "value", "valuenum", "valueuom", "warning",
    ),
    "icu/procedureevents": (
        "subject_id", "hadm_id", "stay_id", "caregiver_id", "starttime", "endtime", "storetime",
        "itemid", "value", "valueuom", "location", "locationcategory", "orderid", "linkorderid",
        "ordercategoryname", "ordercategorydescription", "patientweight", "isopenbag",
        "continueinnextdept", "statusdescription", "originalamount", "originalrate",
    ),
    "icu/d_items": (
        "itemid", "label", "abbreviation", "linksto", "category", "unitname", "param_type",
        "lownormalvalue", "highnormalvalue",
    ),
    "cxr/mimic-cxr-2.0.0-metadata": (
        "dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition",
        "Rows", "Columns", "StudyDate", "StudyTime", "ProcedureCodeSequence_CodeMeaning",
        "ViewCodeSequence_CodeMeaning", "PatientOrientationCodeSequence_CodeMeaning",
    ),
}  # fmt: skip


def write_table(
    path: Path, table: str, rows: Iterable[Sequence[object]], *, gz: bool = True
) -> Path:
    """Write ``rows`` (in the table's column order; None = empty) as MIMIC's CSV(.gz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(path.name + (".csv.gz" if gz else ".csv"))
    opener = gzip.open if gz else open
    with opener(target, "wt", newline="") as handle:  # type: ignore[operator]
        writer = csv.writer(handle)
        writer.writerow(LAYOUTS[table])
        for row in rows:
            if len(row) != len(LAYOUTS[table]):
                raise ValueError(f"{table}: {len(row)} values for {len(LAYOUTS[table])} columns")
            writer.writerow("" if v is None else v for v in row)
    return target
