"""A small, made-up MIMIC-IV v2.2/3.x + MIMIC-CXR-JPG tree in the official layouts (no real data).

Sixteen patients charted the way MetaVision charts them: hourly vital signs, temperature in °F or
°C, FiO2 as percent or fraction (and once an O2 flow typed into FiO2), GCS as three components
('No Response-ETT' once intubated), oxygen device and ventilator mode, code status, arterial and
venous blood gases with their specimen type, daily chemistry, Invasive Ventilation rows in
procedureevents (one 'Rewritten'), and frontal and lateral films as tiny JPGs. Six patients
deteriorate and are intubated in the ICU, one arrives intubated, one is do-not-intubate, one has
a second ICU stay, the rest stay on oxygen.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from tests.model.cohorts.mimic_layout import write_table

T0 = datetime(2150, 3, 4, 7, 15)
_HOUR = timedelta(hours=1)


@dataclass
class Stay:
    subject: int
    hadm: int
    stay: int
    intime: datetime
    hours: int
    intubate_h: float | None = None  # after intime; negative: arrived ventilated
    procedure: bool = True  # an Invasive Ventilation row in procedureevents
    charting: bool = True  # ventilator mode / ETT charted
    dni: bool = False
    dies: bool = False

    @property
    def outtime(self) -> datetime:
        return self.intime + self.hours * _HOUR

    def at(self, h: float) -> datetime:
        return self.intime + timedelta(hours=h)

    def severity(self, h: float) -> float:
        if self.dni:
            return min(0.95, 0.2 + h / 40)
        if self.intubate_h is None:
            return 0.1 + 0.05 * np.sin(h / 5)
        return float(np.clip(0.1 + (h - self.intubate_h + 16) / 18, 0.1, 0.95))


@dataclass
class Fixture:
    mimic: Path
    cxr: Path
    stays: list[Stay]
    chart: list[list[object]] = field(default_factory=list)
    labs: list[list[object]] = field(default_factory=list)
    films: list[list[object]] = field(default_factory=list)

    def first_stays(self) -> list[Stay]:
        seen: dict[int, Stay] = {}
        for s in sorted(self.stays, key=lambda s: s.intime):
            seen.setdefault(s.subject, s)
        return list(seen.values())


def _plan() -> list[Stay]:
    stays: list[Stay] = []
    for i in range(16):
        intime = T0 + timedelta(days=3 * i, hours=5 * i)
        stays.append(Stay(10000032 + 1117 * i, 20000100 + i, 30000200 + i, intime, 44 + 3 * i))
    for i, h in enumerate((18.0, 22.5, 27.0, 31.0, 24.0, 35.0)):
        stays[i].intubate_h = h
    stays[4].procedure = False  # the charting alone tells
    stays[5].charting = False  # procedureevents alone tells
    stays[6].intubate_h = -2.0  # arrived ventilated from the OR
    stays[7].dni, stays[7].dies = True, True
    first = stays[8]
    stays.append(Stay(first.subject, 20000190, 30000290, first.outtime + 30 * _HOUR, 30))
    return stays


#: MetaVision charts GCS components as text with the score in valuenum.
GCS_TEXT = {
    220739: {4: "Spontaneously", 3: "To Speech", 2: "To Pain", 1: "None"},
    223900: {5: "Oriented", 4: "Confused", 3: "Inappropriate Words", 1: "No Response-ETT"},
    223901: {6: "Obeys Commands", 5: "Localizes Pain", 4: "Flex-withdraws"},
}


def _chart(fx: Fixture, s: Stay, h: float, itemid: int, value: object, uom: str = "") -> None:
    t = s.at(h)
    num = value if isinstance(value, int | float) else None
    text = f"{value:g}" if isinstance(value, float) else str(value)
    if itemid in GCS_TEXT and isinstance(value, int):
        text = GCS_TEXT[itemid][value]
    fx.chart.append(
        [s.subject, s.hadm, s.stay, 40000 + s.stay % 97, f"{t:%Y-%m-%d %H:%M:%S}",
         f"{t + 9 * timedelta(minutes=1):%Y-%m-%d %H:%M:%S}", itemid, text,
         None if num is None else num, uom or None, 0]
    )  # fmt: skip


def _vitals(fx: Fixture, s: Stay, rng: random.Random) -> None:
    vent_from = s.intubate_h if s.intubate_h is not None else 1e9
    fraction_fio2 = s.stay % 3 == 0
    for h in range(s.hours):
        t = h + rng.uniform(0.05, 0.6)
        sev, vented = s.severity(min(t, vent_from)), t >= vent_from
        _chart(fx, s, t, 220045, round(80 + 45 * sev + rng.gauss(0, 4)), "bpm")
        _chart(fx, s, t, 224690 if vented else 220210, round(15 + 20 * sev + rng.gauss(0, 2)))
        _chart(fx, s, t, 220277, min(100, round(98 - 12 * sev + rng.gauss(0, 1))), "%")
        sbp = round(128 - 30 * sev + rng.gauss(0, 6))
        dbp = round(68 - 14 * sev + rng.gauss(0, 4))
        for item, v in ((220179, sbp), (220180, dbp), (220181, round((sbp + 2 * dbp) / 3))):
            _chart(fx, s, t, item, v, "mmHg")
        if vented:  # arterial line, charted with the cuff pressure
            for item, v in (
                (220050, sbp + 4),
                (220051, dbp - 2),
                (220052, round((sbp + 2 * dbp) / 3)),
            ):
                _chart(fx, s, t, item, v, "mmHg")
        fio2 = 50.0 if vented else round(21 + 70 * max(0.0, sev - 0.15))
        if h % 2 == 0:
            _chart(fx, s, t, 223835, fio2 / 100 if fraction_fio2 else fio2, "%")
            flow = 0 if vented else round(2 + 50 * max(0.0, sev - 0.2))
            if not vented and flow:
                _chart(fx, s, t, 223834, flow, "L/min")
            device = (
                "Endotracheal tube" if vented and s.charting
                else "High flow nasal cannula" if flow > 15 else "Nasal cannula" if flow else "None"
            )  # fmt: skip
            _chart(fx, s, t, 226732, device)
            if vented and s.charting:
                _chart(fx, s, t, 223849, "CMV/ASSIST/AutoFlow")
        if h % 4 == 0:
            temp_c = 36.8 + 1.5 * sev + rng.gauss(0, 0.2)
            if h % 8 == 0:
                _chart(fx, s, t, 223761, round(temp_c * 1.8 + 32, 1), "°F")
            else:
                _chart(fx, s, t, 223762, round(temp_c, 1), "°C")
            _chart(fx, s, t, 220739, 4 if sev < 0.5 else 3)
            _chart(fx, s, t, 223901, 6 if sev < 0.7 else 5)
            if vented:
                _chart(fx, s, t, 223900, 1)  # 'No Response-ETT', valuenum 1
            elif h != 8:  # hour 8: eye and motor only
                _chart(fx, s, t, 223900, 5 if sev < 0.4 else 4)
        _chart(fx, s, t + 0.01, 220048, "SR (Sinus Rhythm)")  # an item the importer ignores
    if s.stay % 5 == 1:
        _chart(fx, s, 3.3, 223835, 4.0, "%")  # an O2 flow typed into FiO2
    if s.stay == 30000210:
        _chart(fx, s, 12.7, 226732, "Endotracheal tube")  # one stray row is not an episode
    status = "DNR (do not resuscitate)" if s.stay % 4 == 3 else "Full code"
    _chart(fx, s, 1.2, 223758, "DNR / DNI" if s.dni else status)
    if s.intubate_h is not None and s.intubate_h > 0 and s.stay % 2 == 0:
        _chart(fx, s, s.intubate_h + 6, 223758, "Comfort measures only")  # after intubation


def _lab(
    fx: Fixture, s: Stay, t: datetime, specimen: int, itemid: int, value: object, uom: str
) -> None:
    num = value if isinstance(value, int | float) else None
    fx.labs.append(
        [len(fx.labs) + 1, s.subject, s.hadm, specimen, itemid, "P4X7QK", f"{t:%Y-%m-%d %H:%M:%S}",
         f"{t + timedelta(minutes=40):%Y-%m-%d %H:%M:%S}", value, num, uom or None, None, None,
         None, "STAT", None]
    )  # fmt: skip


def _labs(fx: Fixture, s: Stay, rng: random.Random) -> None:
    arterial = s.intubate_h is not None or s.dni
    for h in range(-6, s.hours, 6):
        sev = s.severity(max(h, 0))
        spec, t = 7000000 + len(fx.labs), s.at(h + 0.4)
        po2, pco2, ph = round(95 - 35 * sev + rng.gauss(0, 5)), round(40 + 12 * sev), 7.42 - sev / 9
        _lab(fx, s, t, spec, 52033, "ART." if arterial else "VEN.", "")
        _lab(fx, s, t, spec, 50821, po2, "mm Hg")
        _lab(fx, s, t, spec, 50818, pco2, "mm Hg")
        _lab(fx, s, t, spec, 50820, round(ph, 2), "units")
        if arterial and h >= 0:  # the nurse copies the result into the chart
            _chart(fx, s, h + 0.9, 220224, po2, "mmHg")
            _chart(fx, s, h + 0.9, 220235, pco2, "mmHg")
            _chart(fx, s, h + 0.9, 223830, round(ph, 2), "units")
        _lab(fx, s, t, spec, 50813, round(1.1 + 3 * sev, 1), "mmol/L")
        _lab(fx, s, t, spec, 50803, round(24 - 4 * sev), "mEq/L")
        if h % 24 == 18:
            spec = 8000000 + len(fx.labs)
            _lab(fx, s, t, spec, 50882, round(25 - 3 * sev), "mEq/L")
            _lab(fx, s, t, spec, 50912, round(0.9 + sev, 1), "mg/dL")
            _lab(fx, s, t, spec + 1, 51301, round(8 + 6 * sev, 1), "K/uL")
    _lab(fx, s, s.at(-240), 9000000 + s.stay, 50912, 1.0, "mg/dL")  # a clinic visit, long before


def _procedures(s: Stay) -> list[list[object]]:
    if s.intubate_h is None or not s.procedure:
        return []
    rows = []
    for start_h, status in ((s.intubate_h - 10, "Rewritten"), (s.intubate_h, "FinishedRunning")):
        if status == "Rewritten" and s.stay % 2:
            continue
        start, end = s.at(start_h), s.outtime
        rows.append(
            [s.subject, s.hadm, s.stay, 41000, f"{start:%Y-%m-%d %H:%M:%S}",
             f"{end:%Y-%m-%d %H:%M:%S}", f"{end:%Y-%m-%d %H:%M:%S}", 225792,
             round((end - start).total_seconds() / 60), "min", None, "Invasive Ventilation",
             9100000 + s.stay, 9100000 + s.stay, "Ventilation", "Task", 78.5, 0, 0, status,
             1, 1]
        )  # fmt: skip
    return rows


def _films(fx: Fixture, s: Stay, rng: random.Random) -> None:
    for n, h in enumerate(range(-20 if s.stay % 3 == 0 else 2, s.hours, 22)):
        t = s.at(h + rng.uniform(0, 2))
        study = 50000000 + s.stay * 10 + n
        for view in ("AP",) if n % 3 else ("PA", "LATERAL"):
            dicom = f"{s.stay:08x}-{n:08x}-{len(view):08x}-0000000a-0000000b"
            study_time = f"{t:%H%M%S}".lstrip("0") + f".{rng.randint(0, 999):03d}"
            fx.films.append(
                [dicom, s.subject, study, "CHEST (PORTABLE AP)", view, 48, 40, f"{t:%Y%m%d}",
                 study_time, "CHEST (PORTABLE AP)", "antero-posterior", "Erect"]
            )  # fmt: skip
            if s.dni and n == 1:
                continue  # listed in the metadata, JPG not downloaded
            folder = fx.cxr / "files" / f"p{str(s.subject)[:2]}" / f"p{s.subject}" / f"s{study}"
            folder.mkdir(parents=True, exist_ok=True)
            pixels = np.clip(
                np.linspace(30, 200, 48 * 40).reshape(48, 40) + rng.gauss(0, 20) * s.severity(h),
                0, 255,
            ).astype(np.uint8)  # fmt: skip
            Image.fromarray(pixels, mode="L").save(folder / f"{dicom}.jpg", quality=90)


def write_mimic_fixture(root: Path, *, gz: bool = True, cxr: bool = True) -> Fixture:
    """Write the tree under ``root`` (``root/mimiciv/3.1``, ``root/mimic-cxr-jpg/2.1.0``)."""
    rng = random.Random(17)
    fx = Fixture(root / "mimiciv" / "3.1", root / "mimic-cxr-jpg" / "2.1.0", _plan())
    for s in fx.stays:
        _vitals(fx, s, rng)
        _labs(fx, s, rng)
        if cxr:
            _films(fx, s, rng)
    _write_tables(fx, gz=gz)
    if cxr:
        write_table(fx.cxr / "mimic-cxr-2.0.0-metadata", "cxr/mimic-cxr-2.0.0-metadata", fx.films)
    return fx


def _write_tables(fx: Fixture, *, gz: bool) -> None:
    from tests.model.cohorts.mimic_dictionaries import D_ITEMS, D_LABITEMS

    hosp, icu = fx.mimic / "hosp", fx.mimic / "icu"
    subjects = {s.subject: s for s in reversed(fx.stays)}
    write_table(
        hosp / "patients", "hosp/patients",
        [[sub, "F" if sub % 2 else "M", 45 + sub % 40, 2148, "2011 - 2013", None]
         for sub in subjects],
        gz=gz,
    )  # fmt: skip
    write_table(
        hosp / "admissions", "hosp/admissions",
        [[s.subject, s.hadm, f"{s.intime - 20 * _HOUR:%Y-%m-%d %H:%M:%S}",
          f"{s.outtime + 50 * _HOUR:%Y-%m-%d %H:%M:%S}",
          f"{s.at(s.hours - 4):%Y-%m-%d %H:%M:%S}" if s.dies else None, "EW EMER.", "P4X7QK",
          "EMERGENCY ROOM", "DIED" if s.dies else "HOME", "Medicare", "ENGLISH", "MARRIED",
          "WHITE", None, None, int(s.dies)] for s in fx.stays],
        gz=gz,
    )  # fmt: skip
    write_table(hosp / "labevents", "hosp/labevents", fx.labs, gz=gz)
    write_table(hosp / "d_labitems", "hosp/d_labitems", D_LABITEMS, gz=gz)
    write_table(
        icu / "icustays", "icu/icustays",
        [[s.subject, s.hadm, s.stay, "Medical Intensive Care Unit (MICU)",
          "Medical Intensive Care Unit (MICU)", f"{s.intime:%Y-%m-%d %H:%M:%S}",
          f"{s.outtime:%Y-%m-%d %H:%M:%S}", round(s.hours / 24, 4)] for s in fx.stays],
        gz=gz,
    )  # fmt: skip
    write_table(icu / "chartevents", "icu/chartevents", fx.chart, gz=gz)
    write_table(
        icu / "procedureevents", "icu/procedureevents",
        [row for s in fx.stays for row in _procedures(s)], gz=gz,
    )  # fmt: skip
    write_table(icu / "d_items", "icu/d_items", D_ITEMS, gz=gz)
    with gzip.open(icu / "inputevents.csv.gz", "wt") as handle:  # present, not read
        handle.write("subject_id,hadm_id,stay_id,caregiver_id,starttime,endtime,itemid,amount\n")
