"""ICU stays (icu/icustays) with age and sex (hosp/patients) and the time of death (admissions).

A stay starts at ``intime`` and ends at ``outtime``, or at the in-hospital ``deathtime`` when that
falls inside the stay. Age at the stay follows MIMIC-IV's anchoring: ``anchor_age`` is the age in
the shifted ``anchor_year``, so age = anchor_age + (year of intime - anchor_year); patients older
than 89 carry anchor_age 91 in v2.x/3.x. By default only each patient's first ICU stay is kept,
because training splits by ``patient_key`` and two stays of one patient must not land in both
training and validation; ``all_stays`` keeps every stay (one key per stay).
"""

from __future__ import annotations

from collections import Counter

from model.cohorts.mimic.engine import Engine, sql_text
from model.cohorts.mimic.tables import Table

#: Identifier system of the patient key: MIMIC-IV on FHIR's ICU-encounter identifier (stay_id).
STAY_SYSTEM = "http://mimic.mit.edu/fhir/mimic/identifier/encounter-icu"

NOT_FIRST_STAY = "not the patient's first ICU stay (--all-stays keeps it)"


def build_stays(engine: Engine, tables: dict[str, Table], *, all_stays: bool) -> Counter[str]:
    """Create table ``stays``; returns the reasons for leaving stays out, with counts."""
    adm = tables.get("hosp/admissions")
    death = "a.deathtime" if adm else "CAST(NULL AS TIMESTAMP)"
    death_join = (
        f"LEFT JOIN (SELECT hadm_id, max(deathtime) AS deathtime FROM {adm.scan()} "
        "GROUP BY hadm_id) a ON a.hadm_id = i.hadm_id"
        if adm
        else ""
    )
    engine.run(
        "read icu/icustays",
        f"""
        CREATE TABLE source_stays AS
        WITH pat AS (
            SELECT subject_id, any_value(gender) AS gender, any_value(anchor_age) AS anchor_age,
                   any_value(anchor_year) AS anchor_year
            FROM {tables["hosp/patients"].scan()} GROUP BY subject_id
        ), icu AS (
            SELECT * FROM {tables["icu/icustays"].scan()}
        )
        SELECT i.subject_id, i.hadm_id, i.stay_id, i.intime, i.outtime,
               CASE WHEN {death} > i.intime AND {death} < i.outtime THEN {death}
                    ELSE i.outtime END AS stay_end,
               p.anchor_age + (year(i.intime) - p.anchor_year) AS age,
               CASE upper(trim(p.gender)) WHEN 'M' THEN 'male' WHEN 'F' THEN 'female' END AS sex,
               p.subject_id IS NOT NULL AS known_patient,
               CASE WHEN i.intime IS NULL OR i.outtime IS NULL THEN 'no intime or outtime'
                    WHEN i.outtime <= i.intime THEN 'outtime not after intime'
               END AS reason
        FROM icu i LEFT JOIN pat p ON p.subject_id = i.subject_id {death_join}
        """,
    )
    first_only = "" if all_stays else f"WHEN rank_in_patient > 1 THEN {sql_text(NOT_FIRST_STAY)}"
    engine.run(
        "select stays",
        f"""
        CREATE TABLE stays AS
        SELECT *, {sql_text(STAY_SYSTEM + "|")} || stay_id AS key FROM (
            SELECT *, CASE WHEN reason IS NOT NULL THEN reason {first_only} END AS why_not
            FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY subject_id ORDER BY reason IS NOT NULL, intime, stay_id
                ) AS rank_in_patient
                FROM source_stays
            )
        ) WHERE why_not IS NULL
        """,
    )
    excluded: Counter[str] = Counter()
    for why, n in engine.rows(
        "count stays",
        f"""
        SELECT coalesce(reason, {sql_text(NOT_FIRST_STAY)}), count(*) FROM source_stays
        WHERE stay_id NOT IN (SELECT stay_id FROM stays) GROUP BY 1
        """,
    ):
        excluded[str(why)] = int(n)
    return excluded


def count_unknown_patients(engine: Engine) -> int:
    """Selected stays whose subject is missing from hosp/patients (age and sex unknown)."""
    return engine.scalar("count patients", "SELECT count(*) FROM stays WHERE NOT known_patient")
