"""Cohort films as training reads them: 16-bit PNG (simulator) and 8-bit JPEG (MIMIC-CXR-JPG),
through the same MONAI preprocessing the DICOM listener uses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.cohort import Cohort, CohortFilm
from model.features.films import FilmLoadError, load_films
from model.transforms import preprocess_film


def _cohort(root: Path, films: list[CohortFilm]) -> Cohort:
    return Cohort(root=root, meta={}, patients=[], films=films)


def _film(path: str, uid: str, **kw: object) -> CohortFilm:
    return CohortFilm("k|1", datetime(2150, 1, 1, tzinfo=UTC), path, uid, "AP", **kw)  # type: ignore[arg-type]


def test_a_mimic_cxr_jpg_outside_the_cohort_is_read_and_preprocessed(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels = np.linspace(0, 1, 96 * 80).reshape(96, 80) * 220 + rng.normal(0, 8, (96, 80))
    pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    jpg = tmp_path / "mimic-cxr-jpg" / "files" / "p10" / "p10000032" / "s50414267" / "02aa.jpg"
    jpg.parent.mkdir(parents=True)
    Image.fromarray(pixels, mode="L").save(jpg, quality=95)
    cohort_root = tmp_path / "cohort"
    cohort_root.mkdir()
    store = load_films(
        _cohort(cohort_root, [_film(str(jpg), "02aa", photometric="MONOCHROME2", bits_stored=8)]),
        32,
    )
    with Image.open(jpg) as img:
        decoded = np.asarray(img)
    expected = preprocess_film(decoded, 32)
    assert store.data.shape == (1, 1, 32, 32)
    np.testing.assert_array_equal(store.data[0], expected)
    assert float(np.abs(decoded.astype(np.float32) - pixels).mean()) < 4  # it is the same image


def test_a_png_and_a_jpg_of_one_film_preprocess_alike(tmp_path: Path) -> None:
    pixels = (np.add.outer(np.arange(64), np.arange(64)) * 2).astype(np.uint8)
    Image.fromarray(pixels, mode="L").save(tmp_path / "a.png")
    Image.fromarray(pixels, mode="L").save(tmp_path / "a.jpg", quality=100)
    store = load_films(
        _cohort(tmp_path, [_film("a.png", "p", bits_stored=8), _film("a.jpg", "j", bits_stored=8)]),
        32,
        use_cache=False,
    )
    assert float(np.abs(store.data[0] - store.data[1]).max()) < 0.05


def test_a_missing_jpg_says_which_film(tmp_path: Path) -> None:
    with pytest.raises(FilmLoadError, match="02bb"):
        load_films(_cohort(tmp_path, [_film(str(tmp_path / "none.jpg"), "02bb")]), 32)
