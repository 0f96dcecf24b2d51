"""Peak RSS and wall time of ``ventfusion fhir-import`` on a large bulk export (synthetic data).

Generates a US Core–style bulk ``$export`` with the simulator export's own builders
(``fhir_adapter.cohort_fhir_export``: Patient with an MRN identifier, one ICU Encounter, LOINC/UCUM
Observations with systolic/diastolic as blood-pressure panels, a ventilation Procedure) — by
default 4,000 patients and 1.3 M Observations, the size of the PhysioNet Challenge 2012 export of
issue 17 — with ~1% implausible values and ~1% codes the model does not use. Each import runs in a
fresh child process that reports its own peak RSS (``getrusage``), so the figures are the
importer's alone. Cases:

  right-system  --mrn-system is the identifier system of the export (a cohort is written)
  wrong-system  another system: every Observation is of a Patient without MRN (the empty cohort)

    .venv/bin/python bench/bench_fhir_import.py [--patients 4000] [--observations 1300000]
        [--work /tmp/vf-bench-fhir] [--code-root .]   # --code-root: import another checkout
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from fhir_adapter.cohort_fhir_export import (
    build_blood_pressure_panel,
    build_encounter,
    build_observation,
    build_patient,
    build_ventilation_procedure,
)
from model.cohort import CohortPatient
from model.synth import DEFAULT_MRN_SYSTEM

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2012, 1, 1, tzinfo=UTC)
#: variable, low, high of the generated values (canonical units), hourly-vital weight
VITALS = [("heart_rate", 50, 140), ("resp_rate", 8, 40), ("spo2", 85, 100),
          ("temperature", 35.5, 39.5), ("map", 50, 120), ("fio2", 21, 80)]  # fmt: skip
LABS = [("pao2", 50, 200), ("paco2", 25, 70), ("ph", 7.1, 7.6), ("lactate", 0.5, 8),
        ("creatinine", 0.4, 6), ("wbc", 2, 30), ("gcs_total", 3, 15)]  # fmt: skip
UNMAPPED = {"code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}}  # glucose
CHILD = """
import json, resource, sys, time
from pathlib import Path
from fhir_adapter.bulk import import_ndjson
src, dest, system = sys.argv[1:4]
t = time.perf_counter()
r = import_ndjson(Path(src), Path(dest), mrn_system=system)
wall = time.perf_counter() - t
print(json.dumps({"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    / 1024, "patients": r.patients, "measurements": r.measurements,
    "observations": r.observations}))
"""


def _value(rng: random.Random, low: float, high: float) -> float:
    if rng.random() < 0.01:  # an implausible value (a typing error, a unit mix-up)
        return round(high * rng.uniform(3, 9), 1)
    return round(rng.uniform(low, high), 1)


def generate(out: Path, patients: int, observations: int, seed: int = 0) -> dict[str, int]:
    """Write Patient/Encounter/Procedure/Observation NDJSON; returns the counts written."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    per_patient = observations // patients
    counts = dict.fromkeys(("Patient", "Encounter", "Procedure", "Observation"), 0)
    files = {k: (out / f"{k}.ndjson").open("wb") for k in counts}
    try:
        for p in range(patients):
            key = f"{DEFAULT_MRN_SYSTEM}|PN{p:06d}"
            start = T0 + timedelta(hours=rng.uniform(0, 24 * 365))
            end = start + timedelta(hours=48)
            patient = CohortPatient(key, rng.randint(18, 90), rng.choice(("male", "female")),
                                    start, end)  # fmt: skip
            for kind, resource in (("Patient", build_patient(patient)),
                                   ("Encounter", build_encounter(patient))):  # fmt: skip
                files[kind].write(orjson.dumps(resource) + b"\n")
                counts[kind] += 1
            if rng.random() < 0.3:
                vent = start + timedelta(hours=rng.uniform(4, 47))
                proc = build_ventilation_procedure(key, vent, end)
                files["Procedure"].write(orjson.dumps(proc) + b"\n")
                counts["Procedure"] += 1
            n = per_patient + (1 if p < observations - per_patient * patients else 0)
            for i in range(n):
                when = start + timedelta(minutes=rng.uniform(0, 48 * 60))
                kind = rng.random()
                if kind < 0.2:
                    resource = build_blood_pressure_panel(
                        key, i, _value(rng, 80, 180), _value(rng, 40, 100), when
                    )
                elif kind < 0.99:
                    name, low, high = rng.choice(VITALS if kind < 0.85 else LABS)
                    resource = build_observation(key, i, name, _value(rng, low, high), when)
                else:
                    resource = {**build_observation(key, i, "heart_rate", 80, when), **UNMAPPED}
                files["Observation"].write(orjson.dumps(resource) + b"\n")
                counts["Observation"] += 1
    finally:
        for handle in files.values():
            handle.close()
    return counts


def run_import(src: Path, dest: Path, system: str, code_root: Path) -> dict[str, float]:
    """One import in a fresh child process (cwd ``code_root``); its own peak RSS and wall."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(src), str(dest), system],
        cwd=code_root, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=4000)
    parser.add_argument("--observations", type=int, default=1_300_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/vf-bench-fhir"))
    parser.add_argument("--code-root", type=Path, default=ROOT)
    parser.add_argument("--cases", default="right-system,wrong-system")
    args = parser.parse_args(argv)
    src = args.work / "ndjson"
    marker = src / f"generated-{args.patients}-{args.observations}.json"
    if not marker.exists():
        started = time.perf_counter()
        counts = generate(src, args.patients, args.observations)
        marker.write_text(json.dumps(counts))
        print(f"generated {counts} in {time.perf_counter() - started:.0f} s")
    size = sum(p.stat().st_size for p in src.glob("*.ndjson")) / 1e6
    print(f"export: {json.loads(marker.read_text())}, {size:.0f} MB of NDJSON")
    systems = {"right-system": DEFAULT_MRN_SYSTEM, "wrong-system": "urn:oid:2.16.840.1.113883.19"}
    print("| case | observations | patients | measurements | wall (s) | Obs/s | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|")
    for case in args.cases.split(","):
        r = run_import(src, args.work / f"cohort-{case}", systems[case], args.code_root)
        n = json.loads(marker.read_text())["Observation"]
        print(
            f"| {case} | {n:,} | {r['patients']:,} | {r['measurements']:,} | "
            f"{r['wall_s']:.0f} | {n / r['wall_s']:,.0f} | {r['peak_rss_mb']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
