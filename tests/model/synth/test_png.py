from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.synth import SynthError
from model.synth.png import encode_png16, write_png16


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (64, 48)])
def test_pillow_reads_back_the_exact_values(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 2**16, size=shape, dtype=np.uint16)
    pixels.flat[0] = 65535
    with Image.open(io.BytesIO(encode_png16(pixels))) as img:
        assert img.mode == "I;16"
        assert np.array_equal(np.asarray(img), pixels)


def test_write_creates_folders(tmp_path: Path) -> None:
    pixels = np.arange(12, dtype=np.uint16).reshape(3, 4) * 4000
    write_png16(tmp_path / "a" / "b.png", pixels)
    with Image.open(tmp_path / "a" / "b.png") as img:
        assert np.array_equal(np.asarray(img), pixels)


@pytest.mark.parametrize("bad", [np.zeros((3, 3), np.uint8), np.zeros((2, 2, 2), np.uint16)])
def test_rejects_other_images(bad: np.ndarray) -> None:
    with pytest.raises(SynthError):
        encode_png16(bad)
