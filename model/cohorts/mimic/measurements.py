"""Vital signs, GCS, blood gases and labs -> ``measurements.csv`` rows in canonical units.

One streaming scan of ``chartevents`` keeps only the items of ``itemids.py`` for the selected
stays (table ``ce``); one of ``labevents`` keeps the lab items of those patients (table ``le``).
Each value then gets a reason when it is not used (no number, FiO2 in the 1–20 gap, a venous
blood gas, outside the stay, implausible for the variable, GCS not charted together or verbal
not testable), and the used ones are averaged per (stay, time, variable) — arterial and cuff
pressures charted together, say — like mimic-code's vital-sign concept.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from model.cohorts.mimic import itemids as ids
from model.cohorts.mimic.engine import Engine, sql_list, sql_text
from model.cohorts.mimic.tables import Table
from model.variables import BY_NAME, VARIABLES

IMPLAUSIBLE = "implausible"
TEXT_ITEMS = (
    ids.GCS_VERBAL[0],
    ids.O2_DEVICE_ITEM[0],
    ids.VENT_MODE_ITEM[0],
    ids.HAMILTON_MODE_ITEM[0],
    *(itemid for itemid, _ in ids.CODE_STATUS_ITEMS),
)


def scan_chartevents(engine: Engine, table: Table, *, with_lab_fallback: bool) -> int:
    """Create table ``ce`` (the needed chartevents rows of the selected stays); returns its rows."""
    items = ids.chart_itemids(with_lab_fallback=with_lab_fallback)
    engine.run(
        "scan icu/chartevents",
        f"""
        CREATE TABLE ce AS
        SELECT stay_id, CAST(charttime AS TIMESTAMP) AS charttime, itemid,
               TRY_CAST(valuenum AS DOUBLE) AS valuenum,
               CASE WHEN itemid IN {sql_list(TEXT_ITEMS)} THEN trim(value) END AS value
        FROM {table.scan()}
        WHERE itemid IN {sql_list(items)} AND stay_id IN (SELECT stay_id FROM stays)
        """,
    )
    return engine.scalar("count ce", "SELECT count(*) FROM ce")


def scan_labevents(engine: Engine, table: Table) -> int:
    """Create table ``le`` (lab rows of the selected patients); returns its rows."""
    engine.run(
        "scan hosp/labevents",
        f"""
        CREATE TABLE le AS
        SELECT subject_id, specimen_id, CAST(charttime AS TIMESTAMP) AS charttime, itemid,
               TRY_CAST(valuenum AS DOUBLE) AS valuenum,
               CASE WHEN itemid = {ids.SPECIMEN_TYPE_ITEM} THEN trim(value) END AS value
        FROM {table.scan()}
        WHERE itemid IN {sql_list(ids.lab_itemids())}
          AND subject_id IN (SELECT subject_id FROM stays)
        """,
    )
    return engine.scalar("count le", "SELECT count(*) FROM le")


def _lookup_tables(engine: Engine, *, with_lab_fallback: bool) -> None:
    chart = list(ids.CHART_ITEMS) + (list(ids.CHART_LAB_FALLBACK) if with_lab_fallback else [])
    engine.table(
        "chart_map",
        "itemid INTEGER, variable VARCHAR, conversion VARCHAR",
        [(c.itemid, c.variable, c.conversion.value) for c in chart],
    )
    engine.table(
        "lab_map",
        "itemid INTEGER, variable VARCHAR, arterial_only BOOLEAN",
        [(lab.itemid, lab.variable, lab.arterial_only) for lab in ids.LAB_ITEMS],
    )
    engine.table(
        "ranges",
        "variable VARCHAR, lo DOUBLE, hi DOUBLE",
        [(v.name, v.plausible_min, v.plausible_max) for v in VARIABLES],
    )


def _chart_values() -> str:
    return """
        SELECT c.stay_id, c.charttime AS time, m.variable,
               CASE m.conversion
                    WHEN 'degF' THEN (c.valuenum - 32) / 1.8
                    WHEN 'fio2' THEN CASE WHEN c.valuenum > 0 AND c.valuenum <= 1
                                          THEN c.valuenum * 100 ELSE c.valuenum END
                    ELSE c.valuenum END AS value,
               CASE WHEN c.valuenum IS NULL THEN 'no numeric value'
                    WHEN m.conversion = 'fio2' AND c.valuenum > 1 AND c.valuenum < 20
                    THEN 'FiO2 between 1 and 20 (an O2 flow in L/min charted as FiO2?)'
               END AS reason
        FROM ce c JOIN chart_map m USING (itemid)
    """


def _gcs_values() -> str:
    eye, verbal, motor = ids.GCS_EYE, ids.GCS_VERBAL, ids.GCS_MOTOR
    intubated = " OR ".join(
        f"lower(value) LIKE {sql_text('%' + m + '%')}" for m in ids.GCS_VERBAL_INTUBATED_MARKERS
    )
    return f"""
        SELECT stay_id, charttime AS time, 'gcs_total' AS variable, eye + verbal + motor AS value,
               CASE WHEN verbal_intubated THEN 'verbal response not testable (intubated)'
                    WHEN eye IS NULL OR verbal IS NULL OR motor IS NULL
                    THEN 'eye, verbal and motor not charted together'
                    WHEN eye NOT BETWEEN 1 AND {eye[2]} OR verbal NOT BETWEEN 1 AND {verbal[2]}
                         OR motor NOT BETWEEN 1 AND {motor[2]}
                    THEN 'component out of range'
               END AS reason
        FROM (
            SELECT stay_id, charttime,
                   max(valuenum) FILTER (WHERE itemid = {eye[0]}) AS eye,
                   max(valuenum) FILTER (WHERE itemid = {verbal[0]}) AS verbal,
                   max(valuenum) FILTER (WHERE itemid = {motor[0]}) AS motor,
                   coalesce(bool_or(itemid = {verbal[0]} AND ({intubated})), false)
                       AS verbal_intubated
            FROM ce WHERE itemid IN ({eye[0]}, {verbal[0]}, {motor[0]})
            GROUP BY stay_id, charttime
        )
    """


def _lab_values(pre_stay_h: float) -> str:
    return f"""
        SELECT s.stay_id, l.charttime AS time, m.variable, l.valuenum AS value,
               CASE WHEN l.valuenum IS NULL THEN 'no numeric value'
                    WHEN m.arterial_only AND sp.specimen IS NULL
                    THEN 'blood gas without specimen type'
                    WHEN m.arterial_only AND sp.specimen <> {sql_text(ids.ARTERIAL_SPECIMEN)}
                    THEN 'not an arterial specimen (' || sp.specimen || ')'
               END AS reason
        FROM le l JOIN lab_map m USING (itemid)
        LEFT JOIN (
            SELECT specimen_id, max(value) AS specimen FROM le
            WHERE itemid = {ids.SPECIMEN_TYPE_ITEM} GROUP BY specimen_id
        ) sp USING (specimen_id)
        JOIN stays s ON s.subject_id = l.subject_id
             AND l.charttime >= s.intime - INTERVAL ({pre_stay_h}) HOUR
             AND l.charttime <= s.stay_end
    """


def build_measurements(engine: Engine, *, with_labs: bool, pre_stay_h: float) -> None:
    """Create table ``mapped``: every candidate value with its variable and reason (NULL = used)."""
    _lookup_tables(engine, with_lab_fallback=not with_labs)
    parts = [_chart_values(), _gcs_values()] + ([_lab_values(pre_stay_h)] if with_labs else [])
    union = " UNION ALL ".join(f"({p})" for p in parts)
    engine.run(
        "map measurements",
        f"""
        CREATE TABLE mapped AS
        SELECT v.stay_id, v.time, v.variable, v.value,
               coalesce(v.reason,
                   CASE WHEN v.time < s.intime - INTERVAL ({pre_stay_h}) HOUR
                          OR v.time > s.stay_end THEN 'outside the stay' END,
                   CASE WHEN v.value < r.lo OR v.value > r.hi THEN '{IMPLAUSIBLE}' END) AS reason
        FROM ({union}) v JOIN stays s USING (stay_id) JOIN ranges r USING (variable)
        """,
    )


def labs_outside_stays(engine: Engine, pre_stay_h: float) -> int:
    """Lab results of the selected patients taken outside every selected stay (ward, clinic)."""
    return engine.scalar(
        "count labs outside stays",
        f"""
        SELECT count(*) FROM le l JOIN lab_map m USING (itemid)
        WHERE NOT EXISTS (
            SELECT 1 FROM stays s WHERE s.subject_id = l.subject_id
              AND l.charttime >= s.intime - INTERVAL ({pre_stay_h}) HOUR
              AND l.charttime <= s.stay_end)
        """,
    )


def rejected_counts(engine: Engine) -> Counter[str]:
    """``"variable: reason"`` -> values not used."""
    out: Counter[str] = Counter()
    for variable, reason, n in engine.rows(
        "count rejected",
        "SELECT variable, reason, count(*) FROM mapped WHERE reason IS NOT NULL GROUP BY 1, 2",
    ):
        if reason == IMPLAUSIBLE:
            v = BY_NAME[str(variable)]
            reason = f"outside {v.plausible_min:g}-{v.plausible_max:g} {v.display_unit}".strip()
        out[f"{variable}: {reason}"] = int(n)
    return out


def write_measurements(engine: Engine, path: Path) -> Counter[str]:
    """Write measurements.csv (sorted by stay, then time); returns rows per variable."""
    engine.run(
        "write measurements.csv",
        f"""
        COPY (
            SELECT s.key AS patient_key, strftime(m.time, '%Y-%m-%dT%H:%M:%S+00:00') AS time,
                   m.variable, m.value
            FROM (
                SELECT stay_id, time, variable, round(avg(value), 4) AS value FROM mapped
                WHERE reason IS NULL GROUP BY stay_id, time, variable
            ) m JOIN stays s USING (stay_id)
            ORDER BY m.stay_id, m.time, m.variable
        ) TO {sql_text(str(path))} (HEADER, DELIMITER ',')
        """,
    )
    return Counter(
        {
            str(variable): int(n)
            for variable, n in engine.rows(
                "count measurements",
                "SELECT variable, count(*) FROM (SELECT DISTINCT stay_id, time, variable "
                "FROM mapped WHERE reason IS NULL) GROUP BY 1",
            )
        }
    )
