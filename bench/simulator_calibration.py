"""Print the simulator's marginals, charting intervals, missingness and decision figures next to
the published ICU figures it is calibrated against (docs/simulator.md, "Calibration").

Everything printed on the simulator's side is synthetic. The targets are quoted from the sources
named in the table (numbers as published; the IQRs of the first-day means are narrower than those
of single readings, so compare like with like: the "patient 24 h mean" column).

    .venv/bin/python bench/simulator_calibration.py [--patients 2000] [--seed 1] [--cohort DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from model.cohort import Cohort, read_cohort
from model.comparators.rules import rox_index
from model.evaluation.metrics import auroc
from model.synth import SynthConfig, simulate
from model.variables import VARIABLE_NAMES
from tests.model.synth.helpers import Windows, build_windows

SCI_REP = "MIMIC-IV cohort, Sci Rep 2023 (doi 10.1038/s41598-023-32160-z) Table 1, n=8129"
DEMO = "MIMIC-IV demo, 115 stays (issue #21)"
#: variable -> (target median, target IQR or None, source, compare on)
TARGETS: dict[str, tuple[float, tuple[float, float] | None, str, str]] = {
    "heart_rate": (86.1, (76.2, 98.5), SCI_REP, "patient"),
    "map": (74.8, (69.6, 81.3), SCI_REP, "patient"),
    "resp_rate": (19.3, (16.9, 22.4), SCI_REP, "patient"),
    "temperature": (36.9, (36.6, 37.3), SCI_REP, "patient"),
    "spo2": (97.4, (95.9, 98.7), SCI_REP, "patient"),
    "creatinine": (1.3, (0.9, 2.1), SCI_REP, "patient"),
    "dbp": (56.0, None, DEMO, "reading"),
    "lactate": (2.2, None, DEMO, "reading"),
}
AACN = "AACN (Schulman & Staul): ICU vitals at least q2h, often q1h"
#: variable -> (low, high) target median hours between charted values, source
INTERVALS: dict[str, tuple[float, float, str]] = {
    "heart_rate": (1.0, 2.0, AACN),
    "resp_rate": (1.0, 2.0, AACN),
    "sbp": (1.0, 2.0, AACN),
    "temperature": (2.0, 4.0, "routine q4h (nursing practice)"),
    "creatinine": (12.0, 24.0, "morning labs, daily"),
}
ROCA = "Roca 2019: 35.6% of 191 HFNC patients intubated; ROX AUROC 0.68/0.70/0.76 at 2/6/12 h"


def _qs(x: np.ndarray) -> str:
    if x.size == 0:
        return "n/a"
    q1, q2, q3 = np.percentile(x, [25, 50, 75])
    return f"{q2:.1f} ({q1:.1f}-{q3:.1f})"


def _series(cohort: Cohort) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """variable -> patient key -> (hours after admission sorted, values)."""
    start = {p.key: p.stay_start.timestamp() for p in cohort.patients}
    raw: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for k, t, v, x in zip(
        cohort.m_key, cohort.m_time, cohort.m_variable, cohort.m_value, strict=True
    ):
        raw[v][k].append(((t.timestamp() - start[k]) / 3600.0, x))
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for v, by_key in raw.items():
        out[v] = {}
        for k, rows in by_key.items():
            rows.sort()
            out[v][k] = (np.asarray([r[0] for r in rows]), np.asarray([r[1] for r in rows]))
    return out


def _marginals(cohort: Cohort, series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]) -> None:
    names, values = np.asarray(cohort.m_variable), np.asarray(cohort.m_value)
    print("\n## Marginals (synthetic vs published)\n")
    print("| variable | sim, readings: median (IQR) | sim, patient 24 h mean | target | source |")
    print("|---|---|---|---|---|")
    for name, (median, iqr, source, _) in TARGETS.items():
        per_patient = np.asarray(
            [x[t <= 24].mean() for t, x in series.get(name, {}).values() if np.any(t <= 24)]
        )
        target = f"{median:g}" + (f" ({iqr[0]:g}-{iqr[1]:g})" if iqr else "")
        print(
            f"| {name} | {_qs(values[names == name])} | {_qs(per_patient)} | {target} | {source} |"
        )


def _intervals(series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]) -> None:
    print("\n## Charting intervals, hours between charted values (synthetic)\n")
    print("| variable | sim median (IQR) | target median | source |")
    print("|---|---|---|---|")
    for name in ("heart_rate", "resp_rate", "sbp", "temperature", "gcs_total", "fio2", "pao2",
                 "lactate", "creatinine"):  # fmt: skip
        gaps = np.concatenate([np.diff(t) for t, _ in series.get(name, {}).values()] or [[]])
        low, high, source = INTERVALS.get(name, (np.nan, np.nan, ""))
        target = f"{low:g}-{high:g}" if source else ""
        print(f"| {name} | {_qs(gaps)} | {target} | {source} |")


def _missingness(w: Windows) -> None:
    print("\n## Missingness at hourly prediction windows (synthetic): share never charted so far\n")
    missing = np.isnan(w.latest).mean(axis=0)
    print(", ".join(f"{n} {100 * m:.0f}%" for n, m in zip(VARIABLE_NAMES, missing, strict=True)))


def _decisions(
    cohort: Cohort, w: Windows, series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]
) -> None:
    n = len(cohort.patients)
    dni = {p.key for p in cohort.patients if p.do_not_intubate}
    keys = [p.key for p in cohort.patients]
    vent = cohort.ventilation_start
    start = {p.key: p.stay_start.timestamp() for p in cohort.patients}
    in_pop = np.asarray([keys[p] not in dni for p in w.patient])
    print("\n## Decisions and arrivals (synthetic)\n")
    print(f"- patients {n}; ventilated {100 * len(vent) / n:.1f}%; DNI {100 * len(dni) / n:.1f}%")
    print(
        f"- positive 24 h windows: {100 * w.label.mean():.2f}% of {w.label.size} "
        f"(label population without DNI: {100 * w.label[in_pop].mean():.2f}%)"
    )
    first_high = 0
    for p in cohort.patients:
        t, x = series.get("fio2", {}).get(p.key, (np.empty(0), np.empty(0)))
        first_high += int(bool(np.any((t <= 1.0) & (x >= 50))))
    print(f"- FiO2 >= 50% charted in the first hour: {100 * first_high / n:.1f}% of patients")
    hfnc_trial, hfnc_h, hfnc_patients, hfnc_failed = 0, [], 0, 0
    for key in keys:
        t, x = series.get("o2_flow", {}).get(key, (np.empty(0), np.empty(0)))
        on = t[x >= 30]
        if on.size == 0 or key in dni:
            continue
        v = vent.get(key)
        v_h = (v.timestamp() - start[key]) / 3600.0 if v is not None else None
        before = on[on < v_h] if v_h is not None else on
        if before.size and (v_h is None or v_h - before[0] >= 2):
            hfnc_patients += 1
            hfnc_failed += int(v_h is not None)
        if v_h is not None and before.size and v_h - before[0] >= 2:
            hfnc_trial += 1
            hfnc_h.append(v_h - before[0])
    print(
        f"- intubations after >= 2 h of high flow (>= 30 L/min charted): {hfnc_trial} of "
        f"{len(vent)} ({100 * hfnc_trial / max(len(vent), 1):.0f}%), hours of high flow before "
        f"the tube {_qs(np.asarray(hfnc_h))}"
    )
    print(
        f"- high-flow failure (non-DNI patients on high flow >= 2 h, then intubated): "
        f"{hfnc_failed} of {hfnc_patients} ({100 * hfnc_failed / max(hfnc_patients, 1):.0f}%); "
        f"{ROCA}"
    )
    i = {n: VARIABLE_NAMES.index(n) for n in ("spo2", "fio2", "resp_rate", "o2_flow")}
    rox = rox_index(w.latest[:, i["spo2"]], w.latest[:, i["fio2"]], w.latest[:, i["resp_rate"]])
    oracle_auc = auroc(w.label[in_pop], w.oracle[in_pop])
    print(f"- oracle AUROC on windows (label population): {oracle_auc:.3f}")
    ok = in_pop & np.isfinite(rox)
    print(f"- ROX AUROC on windows (label population): {auroc(w.label[ok], -rox[ok]):.3f}")
    flow = w.latest[:, i["o2_flow"]]
    hf = ok & (flow >= 30)
    if w.label[hf].any() and not w.label[hf].all():
        print(
            f"- ROX AUROC on high-flow windows: {auroc(w.label[hf], -rox[hf]):.3f} (n={hf.sum()})"
        )
    _sustained(w, in_pop, rox)


def _sustained(w: Windows, in_pop: np.ndarray, rox: np.ndarray) -> None:
    """Label rate in one visible state, by how long it has lasted: the same derangement held for
    longer must not carry less risk than when it is new (the flaw of simulator v1)."""
    fio2 = w.latest[:, VARIABLE_NAMES.index("fio2")]
    states = {"FiO2 >= 60%": fio2 >= 60, "ROX < 3.85": rox < 3.85, "ROX 3.85-4.88": (
        (rox >= 3.85) & (rox < 4.88))}  # fmt: skip
    for label, state in states.items():
        since = np.full(w.label.size, np.nan)
        run_start: dict[int, float] = {}
        for j in range(w.label.size):
            p = int(w.patient[j])
            if not state[j]:
                run_start.pop(p, None)
                continue
            run_start.setdefault(p, float(w.time_s[j]))
            since[j] = (w.time_s[j] - run_start[p]) / 3600.0
        parts = []
        for low, high_h in ((0, 2), (2, 6), (6, 12), (12, 1e9)):
            m = in_pop & state & (since >= low) & (since < high_h)
            rate = f"{100 * w.label[m].mean():.0f}%" if m.any() else "n/a"
            parts.append(f"{low}-{high_h:g} h: {rate} (n={int(m.sum())})")
        print(f"- label rate at charted {label}, by hours it has lasted: " + "; ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cohort", type=Path, help="an existing simulated cohort instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.cohort
        if root is None:
            root = Path(tmp) / "cohort"
            config = SynthConfig(
                patients=args.patients, seed=args.seed, workers=args.workers, render_films=False
            )
            simulate(config, root)
        cohort = read_cohort(root)
        print(
            f"# Simulator calibration (synthetic cohort: {root.name}, {len(cohort.patients)} pts)"
        )
        series = _series(cohort)
        windows = build_windows(cohort)
        _marginals(cohort, series)
        _intervals(series)
        _missingness(windows)
        _decisions(cohort, windows, series)


if __name__ == "__main__":
    main()
