from __future__ import annotations

import numpy as np
import pytest

from model.synth.films import FilmSpec
from model.synth.render import FilmRenderer, geometry_shape, to_display
from tests.model.synth.helpers import lung_opacity_index


def _spec(**overrides: object) -> FilmSpec:
    base: dict[str, object] = {
        "hour": 1.0, "consolidation": 0.0, "edema": 0.0, "effusion": 0.0, "tube": False,
        "habitus": "normal", "pattern": 0, "geometry": 0, "photometric": "MONOCHROME2",
        "bits_stored": 12, "gain": 1.0, "offset": 0.0, "noise": 0.01, "shift": (0, 0), "seed": 3,
    }  # fmt: skip
    base.update(overrides)
    return FilmSpec(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def renderer() -> FilmRenderer:
    return FilmRenderer(96)


def test_more_consolidation_is_a_whiter_lung(renderer: FilmRenderer) -> None:
    index = [
        lung_opacity_index(to_display(renderer.render(_spec(consolidation=c)), "MONOCHROME2", 12))
        for c in (0.0, 0.3, 0.6, 0.9)
    ]
    assert index == sorted(index)
    assert index[-1] - index[0] > 0.3


def test_monochrome1_is_the_inverse_of_monochrome2(renderer: FilmRenderer) -> None:
    m2 = renderer.render(_spec(photometric="MONOCHROME2", bits_stored=14))
    m1 = renderer.render(_spec(photometric="MONOCHROME1", bits_stored=14))
    assert np.abs(m1.astype(np.int64) - (2**14 - 1 - m2.astype(np.int64))).max() <= 1
    assert np.allclose(
        to_display(m1, "MONOCHROME1", 14), to_display(m2, "MONOCHROME2", 14), atol=1e-4
    )


@pytest.mark.parametrize("bits", [12, 14, 15, 16])
def test_values_fit_the_bits_stored(renderer: FilmRenderer, bits: int) -> None:
    pixels = renderer.render(_spec(bits_stored=bits, consolidation=0.9, effusion=0.5, tube=True))
    assert pixels.dtype == np.uint16
    assert int(pixels.max()) <= 2**bits - 1
    assert int(pixels.max()) > 2 ** (bits - 1)  # the range is used


@pytest.mark.parametrize("geometry", [0, 1, 2])
def test_geometries_have_their_own_matrix(renderer: FilmRenderer, geometry: int) -> None:
    assert renderer.render(_spec(geometry=geometry)).shape == geometry_shape(96, geometry)


def test_tube_effusion_and_edema_change_the_film(renderer: FilmRenderer) -> None:
    plain = renderer.attenuation(_spec())
    for change in ({"tube": True}, {"effusion": 0.6}, {"edema": 0.7}, {"habitus": "copd"}):
        assert np.abs(renderer.attenuation(_spec(**change)) - plain).max() > 0.1


def test_rendering_is_deterministic(renderer: FilmRenderer) -> None:
    spec = _spec(consolidation=0.4, shift=(2, -1))
    assert np.array_equal(renderer.render(spec), FilmRenderer(96).render(spec))
