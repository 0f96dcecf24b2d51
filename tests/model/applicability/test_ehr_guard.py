"""The EHR half of the guard: training ranges and coverage, and the flags of the bundled model."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from model.applicability.ehr import EhrGuard, training_coverage, window_coverage
from model.applicability.wording import ehr_flag_text, ehr_flags_text
from model.features.grid import build_grid, stack_grids
from model.predictor import Predictor
from model.schemas import EhrFlagKind, Measurement, PatientWindow, StaticInfo
from tests.model.applicability.test_real_films import KEY, NOW, _window


def test_coverage_of_training_windows_matches_one_window() -> None:
    times = np.asarray([3.2, 3.5, 7.9, 10.0])
    grid = build_grid(times, np.asarray([0, 1, 0, 2]), np.ones(4), 12, 3)
    stacked, _ = stack_grids([grid])
    history, charted = training_coverage(stacked, np.asarray([11, 7, 2]), 12)
    assert history.tolist() == [9.0, 5.0, 0.0]  # first charted bin is bin 3
    assert charted.tolist() == [3.0, 2.0, 0.0]
    assert window_coverage(grid.observed) == (9.0, 3)


def test_fit_and_flags() -> None:
    guard = EhrGuard.fit(
        {"spo2": np.linspace(80, 100, 1001), "lactate": np.linspace(0.5, 4.0, 1001)},
        history_h=np.full(100, 6.0),
        n_variables=np.full(100, 5.0),
    )
    assert guard.check({"spo2": np.asarray([95.0])}, 12.0, 6) == ()
    flags = guard.check(
        {"spo2": np.asarray([96.0, 62.0]), "lactate": np.asarray([9.0]), "ph": np.asarray([7.1])},
        2.0,
        2,
    )
    kinds = {(f.kind, f.variable) for f in flags}
    assert kinds == {
        (EhrFlagKind.BELOW_TRAINING_RANGE, "spo2"),
        (EhrFlagKind.ABOVE_TRAINING_RANGE, "lactate"),
        (EhrFlagKind.NOT_IN_TRAINING, "ph"),
        (EhrFlagKind.SHORT_HISTORY, ""),
        (EhrFlagKind.FEW_VARIABLES, ""),
    }
    low = next(f for f in flags if f.variable == "spo2")
    assert low.value == 62.0
    assert ehr_flag_text(low).startswith("SpO2 62% is below the values this model was trained on")
    assert EhrGuard.from_dict(guard.to_dict()) == guard


def test_bundled_model_flags_a_window_beyond_its_training_data() -> None:
    p = Predictor.load()
    assert p.predict(_window("sick", None)).ehr_flags == ()
    extreme = [
        Measurement(patient_key=KEY, variable=v, value=x, unit="",
                    time=NOW - timedelta(minutes=20), source_id=f"Observation/x-{v}")
        for v, x in (("lactate", 12.0), ("ph", 7.02), ("spo2", 97.0))
    ]  # fmt: skip
    window = PatientWindow(patient_key=KEY, as_of=NOW, measurements=tuple(extreme),
                           static=StaticInfo(age_years=70, sex="male"))  # fmt: skip
    r = p.predict(window)
    kinds = {(f.kind, f.variable) for f in r.ehr_flags}
    assert (EhrFlagKind.ABOVE_TRAINING_RANGE, "lactate") in kinds
    assert (EhrFlagKind.BELOW_TRAINING_RANGE, "ph") in kinds
    assert (EhrFlagKind.FEW_VARIABLES, "") in kinds
    text = ehr_flags_text(r.ehr_flags)
    assert text is not None
    assert text.startswith("Outside the model's training data, interpret with caution:")
    assert "pH 7.02 is below the values this model was trained on" in text
