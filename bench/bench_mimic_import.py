"""MIMIC importer benchmark: `ventfusion import-mimic` on a synthetic MIMIC-layout tree.

    .venv/bin/python bench/bench_mimic_import.py [--rows 10000000] [--stays 2500] [--repeats 3]
        [--memory-limit 2GB] [--threads 0] [--work DIR] [--engines]

1. Generates (once per --work folder and size) MIMIC-IV v2.2+/3.x tables in the official column
   layouts (tests/model/cohorts/mimic_layout.py), gzipped like PhysioNet's: ``chartevents`` with
   --rows rows (a quarter of them items the importer maps, the rest other items, as in the real
   table), ``labevents`` (rows / 5), ``procedureevents``, ``icustays`` / ``patients`` /
   ``admissions`` for --stays stays, ``d_items`` / ``d_labitems``, and a MIMIC-CXR metadata file.
   Values are random within plausible ranges: **synthetic**, for throughput only.
2. Runs the importer as its own process (the CLI, as a user would) --repeats times and reports the
   median wall time, chartevents rows/s and the peak RSS of the process (DuckDB's native memory
   included), and the median time of the chartevents scan alone (from the stage log).
3. ``--engines``: the filtered scan of the same ``chartevents.csv.gz`` by DuckDB and by Polars'
   lazy ``scan_csv`` (when installed) side by side, each in its own process — how the engine was
   chosen (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from model.cohorts.mimic import itemids as ids  # noqa: E402
from tests.model.cohorts.mimic_layout import LAYOUTS  # noqa: E402

# Mapped numeric items (itemid, low, high), mapped text items with values, and other items.
NUMERIC = [(c.itemid, 10.0, 100.0) for c in ids.CHART_ITEMS]
NUMERIC += [(ids.GCS_EYE[0], 1.0, 4.0), (ids.GCS_MOTOR[0], 1.0, 6.0)]
TEXT = {
    ids.GCS_VERBAL[0]: ["Oriented", "Confused", "No Response-ETT"],
    ids.O2_DEVICE_ITEM[0]: [
        "Nasal cannula",
        "Endotracheal tube",
        "None",
        "High flow nasal cannula",
    ],
    ids.VENT_MODE_ITEM[0]: ["CMV/ASSIST/AutoFlow", "CPAP/PSV", "Standby"],
    ids.CODE_STATUS_ITEMS[0][0]: ["Full code", "DNR / DNI", "Comfort measures only"],
}
OTHER_ITEMS = list(range(224000, 224150))  # items the importer does not read
LAB_ITEMS = [lab.itemid for lab in ids.LAB_ITEMS] + [ids.SPECIMEN_TYPE_ITEM, 50931, 50971]


def _sql(value: object) -> str:
    """A Python list / str / number as a DuckDB literal."""
    if isinstance(value, list):
        return "[" + ", ".join(_sql(v) for v in value) + "]"
    return f"'{value}'" if isinstance(value, str) else str(value)


def _keys(stay: str) -> dict[str, str]:
    return {
        "subject_id": f"10000000 + {stay}",
        "hadm_id": f"20000000 + {stay}",
        "stay_id": f"30000000 + {stay}",
    }


def _time(stay: str, minutes: str = "0") -> str:
    return f"TIMESTAMP '2150-01-01' + INTERVAL ({stay} * 7) HOUR + INTERVAL ({minutes}) MINUTE"


def _copy(
    con: duckdb.DuckDBPyConnection, table: str, exprs: dict[str, str], rows: int, dest: Path
) -> None:
    cols = ", ".join(f"{exprs.get(c, 'NULL')} AS {c}" for c in LAYOUTS[table])
    con.execute(
        f"COPY (SELECT {cols} FROM (SELECT range AS i FROM range({rows}))) "  # noqa: S608
        f"TO '{dest}' (HEADER, DELIMITER ',', COMPRESSION gzip)"
    )


def _chartevents(stays: int) -> dict[str, str]:
    stay, kind = f"(i % {stays})", "h(i, 100)"  # kind < 22: numeric mapped, < 25: text mapped
    num = f"{_sql([[i, lo, hi] for i, lo, hi in NUMERIC])}[1 + h(i * 3, {len(NUMERIC)})]"
    pick = f"(1 + h(i * 5, {len(TEXT)}))"
    value = (
        f"CASE WHEN {kind} < 22 THEN CAST(round({num}[2] + h(i * 7, 1000) / 1000.0 "
        f"* ({num}[3] - {num}[2]), 1) AS VARCHAR) "
        f"WHEN {kind} < 25 THEN {_sql(list(TEXT.values()))}[{pick}][1 + h(i * 11, 3)] "
        "ELSE CAST(h(i * 13, 500) AS VARCHAR) END"
    )
    itemid = (
        f"CASE WHEN {kind} < 22 THEN CAST({num}[1] AS INTEGER) "
        f"WHEN {kind} < 25 THEN {_sql(list(TEXT))}[{pick}] "
        f"ELSE {_sql(OTHER_ITEMS)}[1 + h(i * 17, {len(OTHER_ITEMS)})] END"
    )
    charttime = _time(stay, f"(i // {stays}) * 2")
    return _keys(stay) | {
        "caregiver_id": "h(i, 9000)",
        "charttime": charttime,
        "storetime": f"{charttime} + INTERVAL 5 MINUTE",
        "itemid": itemid,
        "value": value,
        "valuenum": f"CASE WHEN {kind} < 22 OR {kind} >= 25 THEN TRY_CAST({value} AS DOUBLE) END",
        "valueuom": "'units'",
        "warning": "0",
    }


def generate(work: Path, rows: int, stays: int) -> tuple[Path, Path]:
    """Write the synthetic trees under ``work`` (reused when already there for these sizes)."""
    mimic = work / f"mimiciv-synthetic-{rows}-{stays}" / "3.1"
    cxr = work / f"mimic-cxr-synthetic-{stays}"
    stamp = mimic / ".complete"
    if stamp.exists():
        return mimic, cxr
    shutil.rmtree(mimic, ignore_errors=True)
    for folder in (mimic / "hosp", mimic / "icu", cxr / "files"):
        folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("CREATE MACRO h(x, n) AS CAST(hash(x) % n AS BIGINT)")  # stable pseudo-random
    started = time.perf_counter()
    _copy(con, "icu/chartevents", _chartevents(stays), rows, mimic / "icu/chartevents.csv.gz")
    stay = f"(i % {stays})"
    tables = {
        "icu/icustays": (stays, _keys("i") | {
            "first_careunit": "'MICU'", "last_careunit": "'MICU'", "intime": _time("i"),
            "outtime": f"{_time('i')} + INTERVAL 6 DAY", "los": "6.0"}),
        "hosp/patients": (stays, _keys("i") | {
            "gender": "['F', 'M'][1 + i % 2]", "anchor_age": "30 + i % 60",
            "anchor_year": "2148", "anchor_year_group": "'2011 - 2013'"}),
        "hosp/admissions": (stays, _keys("i") | {
            "admittime": _time("i"), "dischtime": f"{_time('i')} + INTERVAL 9 DAY",
            "admission_type": "'EW EMER.'"}),
        "hosp/labevents": (rows // 5, _keys(stay) | {
            "labevent_id": "i", "specimen_id": "i // 6",
            "itemid": f"{_sql(LAB_ITEMS)}[1 + h(i, {len(LAB_ITEMS)})]",
            "charttime": _time(stay, f"(i // {stays}) * 30"),
            "value": "['ART.', 'VEN.'][1 + i % 2]",
            "valuenum": "round(h(i * 3, 800) / 10.0, 1)", "valueuom": "'mm Hg'",
            "priority": "'STAT'"}),
        "icu/procedureevents": (stays, _keys("i") | {
            "starttime": _time("i", "(i % 48) * 60"), "endtime": f"{_time('i')} + INTERVAL 5 DAY",
            "storetime": f"{_time('i')} + INTERVAL 5 DAY",
            "itemid": "CASE WHEN i % 5 < 2 THEN 225792 ELSE 225459 END",
            "statusdescription": "'FinishedRunning'"}),
    }  # fmt: skip
    for table, (n, exprs) in tables.items():
        _copy(con, table, exprs, n, mimic / f"{table}.csv.gz")
    film_time = _time(f"(i % {stays})", f"(i // {stays}) * 1200")
    _copy(con, "cxr/mimic-cxr-2.0.0-metadata", {
        "dicom_id": "'d' || i", "subject_id": f"10000000 + (i % {stays})",
        "study_id": "50000000 + i",
        "ViewPosition": "['AP', 'PA', 'LATERAL'][1 + i % 3]",
        "StudyDate": f"strftime({film_time}, '%Y%m%d')",
        "StudyTime": f"ltrim(strftime({film_time}, '%H%M%S'), '0') || '.5'",
    }, stays * 6, cxr / "mimic-cxr-2.0.0-metadata.csv.gz")  # fmt: skip
    con.close()
    _dictionaries(mimic)
    stamp.write_text(f"{time.perf_counter() - started:.0f} s\n")
    return mimic, cxr


def _dictionaries(mimic: Path) -> None:
    labels = ids.expected_chart_labels(with_lab_fallback=True)
    with gzip.open(mimic / "icu" / "d_items.csv.gz", "wt", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(LAYOUTS["icu/d_items"])
        w.writerows(
            [i, label, label, "chartevents", "x", "", "Numeric", "", ""]
            for i, label in labels.items()
        )
    with gzip.open(mimic / "hosp" / "d_labitems.csv.gz", "wt", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(LAYOUTS["hosp/d_labitems"])
        w.writerows(
            [i, label, "Blood", "Blood Gas"] for i, label in ids.expected_lab_labels().items()
        )


def _measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, peak RSS MiB, stderr) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024, err


def _scan(engine: str, path: Path, memory_limit: str, threads: int) -> int:
    """The filtered chartevents scan alone, by one engine (runs in its own process)."""
    items = ids.chart_itemids(with_lab_fallback=False)
    if engine == "duckdb":
        config = {"memory_limit": memory_limit, "threads": threads or os.cpu_count() or 1}
        con = duckdb.connect(config=config)
        query = (
            f"SELECT count(*) FROM read_csv('{path}', header = true) WHERE itemid IN {tuple(items)}"  # noqa: S608
        )
        return int(con.execute(query).fetchall()[0][0])
    import polars as pl  # not a dependency: measured when installed

    lazy = pl.scan_csv(path, schema_overrides={"value": pl.Utf8})
    found = lazy.filter(pl.col("itemid").is_in(items)).select(pl.len()).collect(engine="streaming")
    return int(found.item())


def _import_runs(args: argparse.Namespace, mimic: Path, cxr: Path) -> dict[str, object]:
    env = {**os.environ, "VENTFUSION_LOG_LEVEL": "INFO"}
    walls, rss, scans = [], [], []
    for n in range(args.repeats):
        out = args.work / "cohort"
        shutil.rmtree(out, ignore_errors=True)
        cli = "from cds_app.cli.main import main; raise SystemExit(main())"
        cmd = [sys.executable, "-c", cli, "import-mimic", "--mimic", str(mimic), "--cxr", str(cxr)]
        cmd += ["--out", str(out), "--memory-limit", args.memory_limit]
        wall, peak, err = _measure([*cmd, "--threads", str(args.threads)], env)
        scan = re.search(r"scan icu/chartevents: ([\d.]+) s", err)
        walls.append(wall)
        rss.append(peak)
        scans.append(float(scan.group(1)) if scan else float("nan"))
        print(f"run {n + 1}: {wall:.1f} s, peak RSS {peak:.0f} MiB, scan {scans[-1]:.1f} s")
    wall, scan = statistics.median(walls), statistics.median(scans)
    return {
        "median_wall_s": round(wall, 1),
        "median_rows_per_s": round(args.rows / wall),
        "median_scan_s": round(scan, 1),
        "median_scan_rows_per_s": round(args.rows / scan),
        "median_peak_rss_mib": round(statistics.median(rss)),
    }


def _engine_runs(args: argparse.Namespace, path: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for engine in ("duckdb", "polars"):
        cmd = [sys.executable, __file__, "--scan", engine, "--scan-file", str(path)]
        cmd += ["--memory-limit", args.memory_limit, "--threads", str(args.threads)]
        try:
            runs = [_measure(cmd, dict(os.environ)) for _ in range(args.repeats)]
        except SystemExit as exc:
            print(f"{engine}: not measured ({str(exc).splitlines()[-1]})")
            continue
        wall = statistics.median(r[0] for r in runs)
        found[f"scan_{engine}"] = {
            "median_s": round(wall, 1),
            "rows_per_s": round(args.rows / wall),
            "median_peak_rss_mib": round(statistics.median(r[1] for r in runs)),
        }
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--stays", type=int, default=2500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/ventfusion-bench-mimic"))
    parser.add_argument("--engines", action="store_true", help="compare DuckDB and Polars scans")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--scan", choices=("duckdb", "polars"), help=argparse.SUPPRESS)
    parser.add_argument("--scan-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scan:
        print(_scan(args.scan, args.scan_file, args.memory_limit, args.threads))
        return 0
    started = time.perf_counter()
    mimic, cxr = generate(args.work, args.rows, args.stays)
    size = (mimic / "icu" / "chartevents.csv.gz").stat().st_size / 2**20
    print(f"synthetic tree {mimic}: chartevents.csv.gz {size:.0f} MiB")
    print(f"(generated or found in {time.perf_counter() - started:.0f} s)")
    result: dict[str, object] = {
        "synthetic": True,
        "machine": "shared",
        "chartevents_rows": args.rows,
        "stays": args.stays,
        "chartevents_gz_mib": round(size),
        "memory_limit": args.memory_limit,
        "threads": args.threads or os.cpu_count(),
        "repeats": args.repeats,
    }
    result |= _import_runs(args, mimic, cxr)
    if args.engines:
        result |= _engine_runs(args, mimic / "icu" / "chartevents.csv.gz")
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
