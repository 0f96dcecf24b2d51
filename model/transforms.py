"""Chest-film preprocessing shared by training and serving (MONAI transforms).

The input is a *display-ready* 2-D image: the DICOM listener has already applied the modality
LUT, the VOI LUT / window and MONOCHROME1 inversion, so higher values are brighter. Any matrix
size, bit depth and dtype is accepted. The output is a float32 ``(1, S, S)`` array in [0, 1]:

1. area-resize so that the longest side is ``S`` (aspect ratio preserved);
2. robust intensity scaling between the 0.5th and 99.5th percentiles, clipped to [0, 1];
3. centre zero-padding to ``S x S`` (black, like air outside the body).

Resizing first keeps the percentile step cheap for 3000-pixel films. Training reads the cohort's
PNG films through exactly this code (``model.features.films``).
"""

from __future__ import annotations

import numpy as np
import torch
from monai.transforms.croppad.array import SpatialPad
from monai.transforms.spatial.array import Resize
from monai.transforms.transform import Transform

from model import ModelError

LOWER_PERCENTILE = 0.5
UPPER_PERCENTILE = 99.5


class FilmTransformError(ModelError):
    """The image cannot be turned into a film tensor (wrong shape, empty, not numeric)."""


def _as_channel_first(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    array = np.asarray(image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else image)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise FilmTransformError(f"expected a 2-D image (H, W), got shape {array.shape}")
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise FilmTransformError(f"image too small: {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise FilmTransformError(f"image must be real-valued, got dtype {array.dtype}")
    data = array.astype(np.float32, copy=True)
    finite = np.isfinite(data)
    if not finite.any():
        raise FilmTransformError("image has no finite pixel values")
    if not finite.all():
        data[~finite] = float(data[finite].min())
    return torch.from_numpy(data)[None]


class PercentileScale(Transform):
    """Scale ``[p_low, p_high]`` percentiles to [0, 1] and clip; constant images become 0.

    MONAI's ``ScaleIntensityRangePercentiles`` does the same up to float32 rounding (it takes
    the percentiles in the image's dtype; tests/model/test_transforms.py bounds the difference),
    but not bit for bit, and every trained model's film inputs were made by this one.
    """

    def __init__(self, lower: float = LOWER_PERCENTILE, upper: float = UPPER_PERCENTILE) -> None:
        self.lower = lower
        self.upper = upper

    def __call__(self, data: torch.Tensor) -> torch.Tensor:
        flat = data.reshape(-1).to(torch.float64)
        low = torch.quantile(flat, self.lower / 100.0)
        high = torch.quantile(flat, self.upper / 100.0)
        span = float(high - low)
        if span <= 0.0:
            return torch.zeros_like(data)
        return ((data - float(low)) / span).clamp_(0.0, 1.0)


class FilmPreprocess(Transform):
    """Array transform: display-ready 2-D image -> float32 ``(1, S, S)`` in [0, 1]."""

    def __init__(self, size: int) -> None:
        if size < 8:
            raise FilmTransformError(f"film size must be >= 8, got {size}")
        self.size = size
        self._resize = Resize(spatial_size=size, size_mode="longest", mode="area")
        self._scale = PercentileScale()
        self._pad = SpatialPad(spatial_size=(size, size), mode="constant", value=0.0)

    def __call__(self, data: np.ndarray | torch.Tensor) -> torch.Tensor:
        image = _as_channel_first(data)
        image = torch.as_tensor(self._resize(image))
        image = self._scale(image)
        image = torch.as_tensor(self._pad(image))
        # Rounding in the longest-side resize may leave a side one pixel over; crop to S.
        image = image[:, : self.size, : self.size]
        return image.to(torch.float32).as_subclass(torch.Tensor).contiguous()


def preprocess_film(image: np.ndarray, size: int) -> np.ndarray:
    """Preprocess one display-ready film to a float32 ``(1, size, size)`` array in [0, 1]."""
    tensor = FilmPreprocess(size)(image)
    return np.ascontiguousarray(tensor.numpy(), dtype=np.float32)
