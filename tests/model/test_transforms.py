"""model.transforms: any size / bit depth in, float32 (1, S, S) in [0, 1] out."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pydicom
import pytest
import torch
from monai.transforms import ScaleIntensityRangePercentiles

from model.transforms import (
    LOWER_PERCENTILE,
    UPPER_PERCENTILE,
    FilmPreprocess,
    FilmTransformError,
    PercentileScale,
    preprocess_film,
)


@pytest.mark.parametrize(
    ("shape", "dtype", "scale"),
    [
        ((512, 512), np.uint16, 4095),
        ((300, 1000), np.uint16, 65535),
        ((1000, 37), np.uint8, 255),
        ((17, 23), np.float64, 1.0),
        ((2048, 1536), np.int16, 3000),
    ],
)
def test_any_size_and_depth_gives_unit_square(shape, dtype, scale) -> None:
    rng = np.random.default_rng(0)
    image = (rng.random(shape) * scale).astype(dtype)
    out = preprocess_film(image, 64)
    assert out.shape == (1, 64, 64)
    assert out.dtype == np.float32
    assert out.min() >= 0.0
    assert out.max() <= 1.0
    assert out.max() > 0.9  # percentile scaling spreads the range


def test_aspect_is_preserved_with_black_padding() -> None:
    image = np.ones((100, 400), np.float32)
    image[:, :200] = 0.0  # left half dark, right half bright
    out = preprocess_film(image, 64)[0]
    # 100 x 400 -> 16 x 64, centred: rows 24..39 hold the image, the rest is zero padding.
    assert np.all(out[:20] == 0.0)
    assert np.all(out[44:] == 0.0)
    assert out[32, 60] == pytest.approx(1.0)
    assert out[32, 4] == pytest.approx(0.0)


def test_brighter_stays_brighter_and_constant_image_is_black() -> None:
    ramp = np.tile(np.linspace(0, 4095, 256), (128, 1))
    out = preprocess_film(ramp, 32)[0]
    row = out[16]
    assert np.all(np.diff(row[row > 0]) >= 0)
    assert np.all(preprocess_film(np.full((50, 50), 7.0), 16) == 0.0)


def test_nan_pixels_and_channel_first_input() -> None:
    image = np.random.default_rng(1).random((1, 40, 40))
    image[0, :3, :3] = np.nan
    out = preprocess_film(image, 16)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3)), np.zeros(10), np.zeros((1, 1))])
def test_bad_input_raises_clear_error(bad: np.ndarray) -> None:
    with pytest.raises(FilmTransformError):
        preprocess_film(bad, 32)


def test_array_transform_and_preprocess_film_agree() -> None:
    image = np.random.default_rng(2).random((70, 90)) * 1000
    direct = FilmPreprocess(24)(image)
    assert isinstance(direct, torch.Tensor)
    assert np.array_equal(direct.numpy(), preprocess_film(image, 24))


@pytest.mark.parametrize("seed", range(4))
def test_percentile_scale_matches_monai_up_to_float32_rounding(seed: int) -> None:
    """Ours takes the percentiles in float64: MONAI's differs by float32 rounding only."""
    rng = np.random.default_rng(seed)
    image = torch.as_tensor(rng.integers(0, 4096, (1, 97, 131)), dtype=torch.float32)
    monai = ScaleIntensityRangePercentiles(
        lower=LOWER_PERCENTILE, upper=UPPER_PERCENTILE, b_min=0.0, b_max=1.0, clip=True
    )
    ours = PercentileScale()(image.clone())
    theirs = torch.as_tensor(monai(image.clone()))
    assert float((ours - theirs).abs().max()) < 1e-5
    assert float(ours.min()) == 0.0
    assert float(ours.max()) == 1.0


def test_real_chest_film_from_pydicom_data() -> None:
    path = resources.files("data_store") / "data" / "RG1_UNCR.dcm"
    ds = pydicom.dcmread(str(path))
    stored = ds.pixel_array.astype(np.float32)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    display = stored.max() - stored  # what the listener hands over: higher = brighter
    out = preprocess_film(display, 64)
    assert out.shape == (1, 64, 64)
    # the mediastinum/spine (centre) is brighter than the lungs beside it
    assert out[0, 28:36, 30:34].mean() > out[0, 28:36, 14:18].mean()
