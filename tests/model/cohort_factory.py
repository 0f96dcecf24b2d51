"""A tiny, seeded, hand-made cohort in the ``model.cohort`` format for fast model tests.

Half the patients develop lung injury: an opacity appears on the films first, FiO2 and RR rise
some hours later and ventilation follows. Films are 16-bit PNGs (some MONOCHROME1, 12-bit).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from model.cohort import write_meta

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _film(rng: np.random.Generator, injured: float, px: int, bits: int, mono1: bool) -> np.ndarray:
    yy, xx = np.mgrid[0:px, 0:px] / px
    lungs = ((xx - 0.3) ** 2 / 0.03 + (yy - 0.5) ** 2 / 0.12 < 1) | (
        (xx - 0.7) ** 2 / 0.03 + (yy - 0.5) ** 2 / 0.12 < 1
    )
    density = np.where(lungs, 0.25, 0.7) + rng.normal(0, 0.03, (px, px))
    density += injured * 0.5 * np.exp(-((xx - 0.3) ** 2 + (yy - 0.6) ** 2) / 0.01)
    stored = np.clip(density, 0, 1) * (2**bits - 1)
    if mono1:
        stored = (2**bits - 1) - stored
    return stored.astype(np.uint16)


def write_tiny_cohort(
    root: Path, *, n_patients: int = 12, seed: int = 0, hours: int = 60, film_px: int = 40
) -> Path:
    """Write the cohort to ``root`` and return it."""
    rng = np.random.default_rng(seed)
    write_meta(root, synthetic=True, generator="tests.model.cohort_factory", seed=seed)
    (root / "films").mkdir(exist_ok=True)
    patients, meas, films, events, oracle, extras = [], [], [], [], [], []
    for p in range(n_patients):
        key = f"urn:test|P{seed}-{p:03d}"
        injured = p % 2 == 1
        onset = float(rng.uniform(8, 24)) if injured else np.inf
        vent = onset + float(rng.uniform(24, 32)) if injured else None
        end = min(hours, vent + 2) if vent else hours
        patients.append(
            [
                key,
                int(rng.integers(30, 85)),
                "male" if p % 3 else "female",
                START.isoformat(),
                (START + timedelta(hours=end)).isoformat(),
            ]
        )
        for h in np.arange(0.25, end, 1.0):
            sev = float(np.clip((h - onset - 10) / 12, 0, 1)) if injured else 0.0
            t = (START + timedelta(hours=float(h))).isoformat()
            meas += [
                [key, t, "spo2", round(96 - 2 * sev + rng.normal(0, 1), 1)],
                [key, t, "fio2", round(21 + 50 * sev + rng.normal(0, 1), 0)],
                [key, t, "resp_rate", round(16 + 14 * sev + rng.normal(0, 2), 0)],
                [key, t, "heart_rate", round(85 + 20 * sev + rng.normal(0, 5), 0)],
            ]
            if int(h) % 6 == 0:
                meas.append([key, t, "lactate", round(1.2 + sev + rng.normal(0, 0.2), 2)])
        for k in range(1, int(np.floor(min(end, vent - 1e-6) if vent else end)) + 1):
            label = 0.9 if vent and k < vent <= k + 24 else 0.05
            oracle.append([key, (START + timedelta(hours=k)).isoformat(), label])
        if p % 4 != 0:  # every fourth patient has no film at all
            for i, h in enumerate(np.arange(2.0, end, 12.0)):
                inj = float(np.clip((h - onset) / 6, 0, 1)) if injured else 0.0
                bits, mono1 = (12, True) if p % 3 == 0 else (16, False)
                arr = _film(rng, inj, film_px + 4 * (p % 3), bits, mono1)
                rel = f"films/{p:03d}_{i}.png"
                Image.fromarray(arr).save(root / rel)
                films.append(
                    [
                        key,
                        (START + timedelta(hours=float(h))).isoformat(),
                        rel,
                        f"1.2.826.0.1.3680043.10.999.{seed}.{p}.{i}",
                        "AP",
                        "MONOCHROME1" if mono1 else "MONOCHROME2",
                        bits,
                    ]
                )
        events.append([key, (START + timedelta(hours=vent)).isoformat() if vent else ""])
        extras.append([key, "lung_injury" if injured else ("copd" if p % 4 == 2 else "stable")])
    for name, header, rows in (
        ("patients.csv", ["patient_key", "age", "sex", "stay_start", "stay_end"], patients),
        ("measurements.csv", ["patient_key", "time", "variable", "value"], meas),
        (
            "films.csv",
            [
                "patient_key",
                "time",
                "path",
                "sop_instance_uid",
                "view",
                "photometric",
                "bits_stored",
            ],
            films,
        ),
        ("events.csv", ["patient_key", "ventilation_start"], events),
        ("oracle.csv", ["patient_key", "time", "probability"], oracle),
        ("extras.csv", ["patient_key", "phenotype"], extras),
    ):
        with (root / name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    return root
