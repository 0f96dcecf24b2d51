"""The variable registry: every consumer reads its precision, codes and molar mass."""

from __future__ import annotations

import dataclasses

import pytest

from fhir_adapter.errors import MappingError
from fhir_adapter.units import to_canonical
from model.explain import format_value
from model.variables import BY_LOINC, BY_NAME, VARIABLES


def test_codes_are_unique_and_displayed() -> None:
    assert len(BY_LOINC) == sum(len(v.loinc) for v in VARIABLES)
    assert all(v.loinc_display and v.plausible_min < v.plausible_max for v in VARIABLES)


@pytest.mark.parametrize(
    ("variable", "value", "text"),
    [("ph", 7.284, "7.28"), ("creatinine", 1.234, "1.23 mg/dL"), ("fio2", 60.4, "60%"),
     ("temperature", 38.47, "38.5°C"), ("o2_flow", 2.0, "2.0 L/min")],
)  # fmt: skip
def test_card_wording_uses_the_registry_precision(variable: str, value: float, text: str) -> None:
    assert format_value(variable, value) == text
    assert len(text.split()[0].rstrip("%°C").partition(".")[2]) == BY_NAME[variable].decimals


def test_substance_conversion_follows_the_variables_molar_mass() -> None:
    creatinine, lactate = BY_NAME["creatinine"], BY_NAME["lactate"]
    assert to_canonical(88.42, "umol/L", creatinine) == pytest.approx(1.0, rel=1e-4)
    assert to_canonical(18.0, "mg/dL", lactate) == pytest.approx(18.0 * 10 / 90.08)
    heavier = dataclasses.replace(creatinine, name="new_lab", molar_mass=2 * 113.1)
    assert to_canonical(88.42, "umol/L", heavier) == pytest.approx(2.0, rel=1e-4)
    urea = dataclasses.replace(creatinine, name="urea", molar_mass=None)
    with pytest.raises(MappingError, match="cannot convert"):  # no molar mass: no conversion
        to_canonical(88.42, "umol/L", urea)
    with pytest.raises(MappingError, match="cannot convert"):
        to_canonical(10.0, "mg/dL", BY_NAME["bicarbonate"])


def test_fraction_under_percent_is_a_variable_property() -> None:
    assert to_canonical(0.4, "%", BY_NAME["fio2"]) == pytest.approx(40.0)
    assert to_canonical(0.9, "%", BY_NAME["spo2"]) == pytest.approx(0.9)
