"""Render a small gallery of synthetic films at increasing injury (docs/gallery/).

.venv/bin/python -m model.synth.gallery docs/gallery [--size 512]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from model.synth.films import FilmSpec
from model.synth.render import FilmRenderer, to_display


@dataclass(frozen=True, slots=True)
class GalleryFilm:
    name: str
    caption: str
    spec: FilmSpec


def _spec(**changes: object) -> FilmSpec:
    values: dict[str, object] = {
        "hour": 0.0, "consolidation": 0.02, "edema": 0.0, "effusion": 0.0, "tube": False,
        "habitus": "normal", "pattern": 1, "geometry": 0, "photometric": "MONOCHROME2",
        "bits_stored": 12, "gain": 1.0, "offset": 0.0, "noise": 0.012, "shift": (0, 0), "seed": 7,
    }  # fmt: skip
    values.update(changes)
    return FilmSpec(**values)  # type: ignore[arg-type]


GALLERY: tuple[GalleryFilm, ...] = (
    GalleryFilm("01-clear", "clear lungs (consolidation 0.02)", _spec()),
    GalleryFilm(
        "02-early", "early injury (0.15): visible before the EHR moves", _spec(consolidation=0.15)
    ),
    GalleryFilm("03-moderate", "moderate injury (0.35)", _spec(consolidation=0.35)),
    GalleryFilm(
        "04-severe", "severe injury (0.6) + small effusions", _spec(consolidation=0.6, effusion=0.2)
    ),
    GalleryFilm("05-ards", "diffuse injury (0.9)", _spec(consolidation=0.9, effusion=0.3)),
    GalleryFilm(
        "06-intubated", "after intubation: endotracheal tube", _spec(consolidation=0.8, tube=True)
    ),
    GalleryFilm("07-copd", "COPD: hyperinflated, clear (EHR looks sick)", _spec(habitus="copd")),
    GalleryFilm(
        "08-fluid",
        "fluid overload: cardiomegaly, perihilar edema, effusions",
        _spec(habitus="cardiomegaly", edema=0.7, effusion=0.6),
    ),
    GalleryFilm(
        "09-monochrome1",
        "the moderate film stored MONOCHROME1 16-bit, portrait matrix (shown inverted back)",
        _spec(consolidation=0.35, photometric="MONOCHROME1", bits_stored=16, geometry=1),
    ),
)


def _to_8bit(display: np.ndarray) -> np.ndarray:
    low, high = np.percentile(display, [0.5, 99.5])
    scaled = np.clip((display - low) / max(high - low, 1e-6), 0.0, 1.0)
    return np.asarray(np.round(scaled * 255.0), dtype=np.uint8)


def render_gallery(out: Path, size: int = 512) -> list[Path]:
    """Write one 8-bit PNG per gallery film and a 3-column contact sheet; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    renderer = FilmRenderer(size)
    paths, tiles = [], []
    for item in GALLERY:
        stored = renderer.render(item.spec)
        image = _to_8bit(to_display(stored, item.spec.photometric, item.spec.bits_stored))
        path = out / f"{item.name}.png"
        Image.fromarray(image).save(path, optimize=True)
        paths.append(path)
        rows, cols = image.shape
        side = max(rows, cols)
        tile = np.zeros((side, side), np.uint8)
        tile[
            (side - rows) // 2 : (side - rows) // 2 + rows,
            (side - cols) // 2 : (side - cols) // 2 + cols,
        ] = image
        tiles.append(
            np.asarray(Image.fromarray(tile).resize((size // 2, size // 2), Image.Resampling.BOX))
        )
    sheet = np.concatenate(
        [np.concatenate(tiles[i : i + 3], axis=1) for i in range(0, len(tiles), 3)]
    )
    sheet_path = out / "contact-sheet.png"
    Image.fromarray(sheet).save(sheet_path, optimize=True)
    return [*paths, sheet_path]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Render the synthetic film gallery.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args(argv)
    render_gallery(args.out, args.size)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
