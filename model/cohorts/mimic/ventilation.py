"""Start of invasive ventilation, and do-not-intubate / comfort-care code status, per stay.

Ventilation start = the earlier of
1. the first ``procedureevents`` row of item 225792 "Invasive Ventilation" (rows whose status is
   'Rewritten' were superseded and are skipped), and
2. the first *invasive* episode in the charting, after mimic-code's ``treatment/ventilation.sql``:
   every charted time of O2 delivery device (226732), ventilator mode (223849) or Hamilton mode
   (229314) gets a status — invasive (endotracheal tube, or an invasive ventilator mode),
   tracheostomy, non-invasive, high-flow cannula, supplemental oxygen, none; consecutive rows of
   one status form an episode, a gap of 14 h or more starts a new one, and an episode needs two
   distinct charted times. Two deliberate departures: every device charted at that time counts
   (mimic-code looks at the first of up to four), and a tracheostomy with an invasive ventilator
   mode is invasive ventilation (mimic-code ranks tracheostomy first), since positive-pressure
   ventilation through a tracheostomy is invasive.
Starts after the stay's end are ignored; starts before ``intime`` (arrived ventilated) are kept,
so such a stay has no prediction window.

A stay is do-not-intubate / comfort care when a code status (223758, or 228687 in later releases)
saying DNI or comfort measures is charted during the stay and no later than the ventilation start
(a patient ventilated first and moved to comfort care afterwards stays in the label population).
"""

from __future__ import annotations

from collections import Counter

from model.cohorts.mimic import itemids as ids
from model.cohorts.mimic.engine import Engine, sql_list, sql_text
from model.cohorts.mimic.tables import Table


def _in(item: tuple[int, str], values: frozenset[str]) -> str:
    return f"(itemid = {item[0]} AND value IN {sql_list(sorted(values))})"


def _chart_status() -> str:
    dev, mode, ham = ids.O2_DEVICE_ITEM, ids.VENT_MODE_ITEM, ids.HAMILTON_MODE_ITEM
    return f"""
        SELECT stay_id, charttime,
               CASE WHEN invasive THEN 'invasive' WHEN trach THEN 'tracheostomy'
                    WHEN niv THEN 'niv' WHEN hfnc THEN 'hfnc' WHEN oxygen THEN 'oxygen'
                    WHEN no_device THEN 'none' END AS status
        FROM (
            SELECT stay_id, charttime,
                   bool_or({_in(dev, ids.INVASIVE_DEVICES)} OR {_in(mode, ids.INVASIVE_MODES)}
                           OR {_in(ham, ids.INVASIVE_HAMILTON_MODES)}) AS invasive,
                   bool_or({_in(dev, ids.TRACHEOSTOMY_DEVICES)}) AS trach,
                   bool_or({_in(dev, ids.NIV_DEVICES)}
                           OR {_in(ham, ids.NIV_HAMILTON_MODES)}) AS niv,
                   bool_or({_in(dev, ids.HFNC_DEVICES)}) AS hfnc,
                   bool_or({_in(dev, ids.SUPPLEMENTAL_O2_DEVICES)}) AS oxygen,
                   bool_or({_in(dev, ids.NO_DEVICE)}) AS no_device
            FROM ce WHERE itemid IN ({dev[0]}, {mode[0]}, {ham[0]})
            GROUP BY stay_id, charttime
        )
    """


def _charted_starts() -> str:
    return f"""
        WITH s AS (SELECT * FROM ({_chart_status()}) WHERE status IS NOT NULL),
        l AS (
            SELECT *, lag(status) OVER w AS prev_status, lag(charttime) OVER w AS prev_time
            FROM s WINDOW w AS (PARTITION BY stay_id ORDER BY charttime)
        ),
        e AS (
            SELECT *, sum(CASE WHEN prev_status IS NULL OR prev_status <> status
                                 OR charttime - prev_time >= INTERVAL ({ids.EPISODE_GAP_H}) HOUR
                               THEN 1 ELSE 0 END)
                      OVER (PARTITION BY stay_id ORDER BY charttime
                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS episode
            FROM l
        )
        SELECT stay_id, min(start) AS start FROM (
            SELECT stay_id, episode, min(charttime) AS start FROM e
            WHERE status = 'invasive' GROUP BY stay_id, episode
            HAVING min(charttime) < max(charttime)
        ) GROUP BY stay_id
    """


def build_ventilation(engine: Engine, procedures: Table | None) -> None:
    """Create table ``vent`` (stay_id, start, by_procedure, by_charting) for ventilated stays."""
    item = ids.INVASIVE_VENTILATION_PROCEDURE[0]
    proc = (
        f"""SELECT stay_id, min(starttime) AS start FROM {procedures.scan()}
            WHERE itemid = {item} AND stay_id IN (SELECT stay_id FROM stays)
              AND coalesce(statusdescription, '') <> {sql_text(ids.REWRITTEN_STATUS)}
            GROUP BY stay_id"""
        if procedures is not None
        else "SELECT CAST(NULL AS BIGINT) AS stay_id, CAST(NULL AS TIMESTAMP) AS start LIMIT 0"
    )
    engine.run("ventilation from procedureevents", f"CREATE TABLE vent_proc AS {proc}")
    engine.run("ventilation from charting", f"CREATE TABLE vent_chart AS {_charted_starts()}")
    engine.run(
        "ventilation starts",
        """
        CREATE TABLE vent AS
        SELECT s.stay_id, least(p.start, c.start) AS start,
               p.start IS NOT NULL AND p.start <= s.stay_end AS by_procedure,
               c.start IS NOT NULL AND c.start <= s.stay_end AS by_charting
        FROM stays s LEFT JOIN vent_proc p USING (stay_id) LEFT JOIN vent_chart c USING (stay_id)
        WHERE least(p.start, c.start) <= s.stay_end
        """,
    )


def ventilation_counts(engine: Engine) -> tuple[int, Counter[str], int]:
    """(ventilated stays, by source, started before the first prediction hour)."""
    sources: Counter[str] = Counter()
    for by_proc, by_chart, n in engine.rows(
        "count ventilation",
        "SELECT by_procedure, by_charting, count(*) FROM vent GROUP BY 1, 2",
    ):
        name = "both" if by_proc and by_chart else "procedureevents" if by_proc else "charting"
        sources[name] += int(n)
    early = engine.scalar(
        "count early ventilation",
        "SELECT count(*) FROM vent JOIN stays USING (stay_id) "
        "WHERE start <= intime + INTERVAL 1 HOUR",
    )
    return sum(sources.values()), sources, early


def _matches(words: tuple[str, ...]) -> str:
    return " OR ".join(f"lower(value) LIKE {sql_text('%' + w + '%')}" for w in words)


def build_code_status(engine: Engine) -> Counter[str]:
    """Create table ``dni`` (stay_id, since); returns the code-status values seen, with counts."""
    items = sql_list(itemid for itemid, _ in ids.CODE_STATUS_ITEMS)
    limiting = f"({_matches(ids.DNI_WORDS)} OR {_matches(ids.COMFORT_WORDS)})"
    engine.run(
        "code status",
        f"""
        CREATE TABLE dni AS
        SELECT c.stay_id, min(c.charttime) AS since
        FROM ce c JOIN stays s USING (stay_id) LEFT JOIN vent v USING (stay_id)
        WHERE c.itemid IN {items} AND {limiting}
          AND c.charttime <= s.stay_end AND (v.start IS NULL OR c.charttime <= v.start)
        GROUP BY c.stay_id
        """,
    )
    seen: Counter[str] = Counter()
    known = f"({_matches(ids.DNI_WORDS + ids.COMFORT_WORDS + ids.NOT_LIMITING_WORDS)})"
    for value, recognised, n in engine.rows(
        "count code status",
        f"SELECT value, {known}, count(*) FROM ce WHERE itemid IN {items} GROUP BY 1, 2",
    ):
        label = str(value) if recognised else f"{value} (not recognised: ignored)"
        seen[label] += int(n)
    return seen
