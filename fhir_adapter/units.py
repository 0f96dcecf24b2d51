"""UCUM unit conversion to the canonical unit of each variable (DESIGN §5).

Unit spellings and unit-to-unit factors are here; what belongs to a variable (its canonical
unit, molar mass, whether a 0-1 value under ``%`` is a fraction) is read from
``model.variables``.
"""

from __future__ import annotations

from collections.abc import Callable

from fhir_adapter.errors import MappingError
from model.variables import Variable

_KPA_TO_MMHG = 7.500617

Converter = Callable[[float], float]


def _identity(value: float) -> float:
    return value


def _f_to_c(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0


def _kpa(value: float) -> float:
    return value * _KPA_TO_MMHG


def _fraction_to_percent(value: float) -> float:
    return value * 100.0


def _scale(factor: float) -> Converter:
    def convert(value: float) -> float:
        return value * factor

    return convert


# Spellings seen in EHR feeds for the same UCUM unit (UCUM codes first).
_ALIASES: dict[str, str] = {
    "/min": "/min",
    "{beats}/min": "/min",
    "beats/min": "/min",
    "{breaths}/min": "/min",
    "breaths/min": "/min",
    "bpm": "/min",
    "1/min": "/min",
    "%": "%",
    "Cel": "Cel",
    "°C": "Cel",
    "degC": "Cel",
    "[degF]": "[degF]",
    "°F": "[degF]",
    "degF": "[degF]",
    "mm[Hg]": "mm[Hg]",
    "mmHg": "mm[Hg]",
    "kPa": "kPa",
    "L/min": "L/min",
    "l/min": "L/min",
    "mL/min": "mL/min",
    "[pH]": "[pH]",
    "pH": "[pH]",
    "mmol/L": "mmol/L",
    "mmol/l": "mmol/L",
    "meq/L": "mmol/L",
    "mEq/L": "mmol/L",
    "mg/dL": "mg/dL",
    "mg/dl": "mg/dL",
    "umol/L": "umol/L",
    "µmol/L": "umol/L",
    "{score}": "{score}",
    "{Score}": "{score}",
    "10*3/uL": "10*3/uL",
    "10*3/mm3": "10*3/uL",
    "10*9/L": "10*3/uL",
    "K/uL": "10*3/uL",
    "1": "1",
    "{fraction}": "1",
}

# (canonical unit of the variable, normalised source unit) -> converter
_CONVERSIONS: dict[tuple[str, str], Converter] = {
    ("Cel", "[degF]"): _f_to_c,
    ("mm[Hg]", "kPa"): _kpa,
    ("%", "1"): _fraction_to_percent,
    ("L/min", "mL/min"): _scale(0.001),
}

# Mass concentration in mg/L and substance concentration in mmol/L per unit; a variable's molar
# mass (g/mol = mg/mmol) converts between the two.
_MASS_MG_PER_L = {"mg/dL": 10.0}
_SUBSTANCE_MMOL_PER_L = {"mmol/L": 1.0, "umol/L": 1e-3}

# Variables whose unit may be absent (dimensionless scores and pH).
_UNITLESS_OK = frozenset({"{score}", "[pH]"})


def normalise_unit(code: str | None) -> str | None:
    """The UCUM spelling of ``code`` or None when the unit is unknown."""
    if code is None:
        return None
    return _ALIASES.get(code.strip())


def _by_molar_mass(value: float, unit: str, canonical: str, molar_mass: float) -> float | None:
    """``value`` from mass to substance concentration or back; None: not such a pair."""
    if unit in _MASS_MG_PER_L and canonical in _SUBSTANCE_MMOL_PER_L:
        return value * _MASS_MG_PER_L[unit] / molar_mass / _SUBSTANCE_MMOL_PER_L[canonical]
    if unit in _SUBSTANCE_MMOL_PER_L and canonical in _MASS_MG_PER_L:
        return value * _SUBSTANCE_MMOL_PER_L[unit] * molar_mass / _MASS_MG_PER_L[canonical]
    return None


def to_canonical(value: float, unit_code: str | None, variable: Variable) -> float:
    """``value`` in ``unit_code`` in the variable's unit; MappingError when it cannot be."""
    canonical, name = variable.unit, variable.name
    if not unit_code:
        if canonical in _UNITLESS_OK:
            return value
        raise MappingError(f"{name}: value without a unit")
    unit = normalise_unit(unit_code)
    if unit is None:
        raise MappingError(f"{name}: unknown unit {unit_code!r}")
    if unit == canonical:
        if variable.fraction_as_percent and 0.0 < value <= 1.0:
            # FiO2 charted as a fraction under "%": 0.21-1.0 cannot be a percentage.
            return value * 100.0
        return value
    if variable.molar_mass is not None:
        converted = _by_molar_mass(value, unit, canonical, variable.molar_mass)
        if converted is not None:
            return converted
    convert = _CONVERSIONS.get((canonical, unit))
    if convert is None:
        raise MappingError(f"{name}: cannot convert {unit_code!r} to {canonical!r}")
    return convert(value)
