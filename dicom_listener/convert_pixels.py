"""Display-ready pixels of a checked data set: first frame, modality LUT, VOI, MONOCHROME1.

Runs in the decoder process only (:mod:`dicom_listener.decoder`): decoders of untrusted data may
fail in any way, and a failure here must not reach the listener.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut
from pydicom.pixels.utils import pixel_array

from dicom_listener import FilmRejectedError


def as_values(value: object) -> list[object]:
    """A DICOM value as a list (one value, several, or none)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return list(cast(Iterable[object], value))
    return [value]


def _first_number(value: object) -> float:
    values = as_values(value)
    return float(cast(float, values[0]))


def linear_window(values: np.ndarray, ds: Dataset) -> np.ndarray | None:
    """The first Window Center/Width as a LINEAR (or LINEAR_EXACT) VOI to [0, 1] (PS3.3 C.11.2.1).

    None when the instance has a VOI LUT Sequence, a SIGMOID function or no usable window: the
    caller then uses pydicom's general implementation.
    """
    if "VOILUTSequence" in ds or "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    function = str(ds.get("VOILUTFunction", "") or "LINEAR").upper()
    try:
        center, width = _first_number(ds.WindowCenter), _first_number(ds.WindowWidth)
    except (TypeError, ValueError, IndexError):
        return None
    if function == "LINEAR" and width >= 1:
        scaled = (values - np.float32(center - 0.5)) / np.float32(max(width - 1, 1e-6)) + 0.5
    elif function == "LINEAR_EXACT" and width > 0:
        scaled = (values - np.float32(center)) / np.float32(width) + 0.5
    else:
        return None
    clipped: np.ndarray = np.clip(scaled, 0.0, 1.0).astype(np.float32, copy=False)
    return clipped


def display_pixels(ds: Dataset) -> np.ndarray:
    """Decode to a 2-D float32 image in [0, 1], higher = brighter.

    Applies the modality LUT (rescale), the VOI LUT or first window, and inverts MONOCHROME1 (or
    an INVERSE presentation LUT shape), as a radiologist's viewer would show the film. Without
    any VOI the full range of values is stretched to [0, 1].
    """
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise FilmRejectedError(f"photometric {photometric or '(none)'} is not greyscale")
    try:
        frame = pixel_array(ds, index=0)  # the first frame only: CR/DX films have one
    except MemoryError:
        raise  # the decoder process's memory limit: a failure, not a property of the film
    except Exception as exc:  # decoders raise many types; all mean "cannot decode"
        raise FilmRejectedError(f"cannot decode pixel data: {type(exc).__name__}: {exc}") from exc
    if frame.ndim != 2:
        raise FilmRejectedError(f"decoded pixels of shape {frame.shape} are not a greyscale image")
    modality = apply_modality_lut(frame, ds)
    values = np.asarray(modality, dtype=np.float32)
    invert = photometric == "MONOCHROME1" or str(ds.get("PresentationLUTShape", "")) == "INVERSE"
    windowed = linear_window(values, ds)
    if windowed is not None:
        if float(windowed.max()) <= float(windowed.min()):
            raise FilmRejectedError("blank image (no contrast in the window)")
        return 1.0 - windowed if invert else windowed
    if "VOILUTSequence" in ds or "WindowCenter" in ds:
        values = np.asarray(apply_voi_lut(modality, ds, index=0), dtype=np.float32)
    if invert:
        values = values.max() - values
    low, high = float(values.min()), float(values.max())
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        raise FilmRejectedError("blank image (no contrast)")
    return ((values - low) / (high - low)).astype(np.float32)
