"""Seeds a patient with a risk history and a real chest film (pydicom-data RG1)."""

from __future__ import annotations

import importlib.resources
from datetime import UTC, datetime, timedelta

import numpy as np
import pydicom

from cds_app.context import AppContext
from model.schemas import ChestFilm, Measurement, PatientKey
from tests.support.ehr import MRN_SYSTEM

KEY = PatientKey(system=MRN_SYSTEM, value="MRN-PAGE")
FILM_UID = "1.3.46.670589.30.1.6.1.963334011378.1183714938203.1"


def real_film_pixels(side: int = 512) -> np.ndarray:
    """RG1 (a real CR chest film), MONOCHROME1 inverted, scaled to [0, 1], ``(1, side, side)``."""
    path = importlib.resources.files("data_store") / "data" / "RG1_UNCR.dcm"
    ds = pydicom.dcmread(str(path))
    image = ds.pixel_array.astype(np.float32)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        image = image.max() - image
    step = max(1, max(image.shape) // side)
    image = image[::step, ::step][:side, :side]
    lo, hi = np.percentile(image, [0.5, 99.5])
    image = np.clip((image - lo) / max(hi - lo, 1.0), 0, 1)
    padded = np.zeros((side, side), dtype=np.float32)
    padded[: image.shape[0], : image.shape[1]] = image
    return padded[None]


def seed_patient(ctx: AppContext, now: datetime | None = None) -> datetime:
    """Twelve hourly assessments with worsening FiO2/RR and a film 3 h ago."""
    now = now or datetime.now(UTC)
    ctx.store.upsert_patient(KEY, fhir_id="pt-page")
    assert ctx.film_sink.add_film(
        ChestFilm(
            patient_key=KEY,
            acquired_at=now - timedelta(hours=3),
            sop_instance_uid=FILM_UID,
            pixels=real_film_pixels(),
        )
    )
    for h in range(12, -1, -1):
        t = now - timedelta(hours=h, minutes=2)
        ctx.store.add_measurements(
            [
                Measurement(patient_key=KEY, variable="fio2", value=30 + 2.5 * (12 - h),
                            unit="%", time=t, source_id=f"Observation/f{h}/_history/1"),
                Measurement(patient_key=KEY, variable="resp_rate", value=18 + (12 - h),
                            unit="/min", time=t, source_id=f"Observation/r{h}/_history/1"),
            ]
        )  # fmt: skip
        ctx.engine.score(KEY, t + timedelta(minutes=1), trigger="test")  # all before "now"
    return now
