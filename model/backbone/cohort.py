"""``ventfusion embed-films``: every film of a cohort embedded once by a film backbone.

The output is a cohort directory whose ``films.csv`` points at one ``.npy`` vector per film, so
``ventfusion train`` trains the ``embedding`` CXR encoder on it and records the backbone's
identity (``cohort.json`` carries it under ``backbone``). The other cohort files are hard-linked
(copied across file systems).

The vectors live in ``OUT/embeddings/<backbone key>/`` with an append-only ``index.jsonl``: one
line per embedded film with the source file's size, modification time and sha256. A rerun
(after an interruption, or on a grown cohort) embeds only films that have no entry for this
backbone or whose file changed (size/time differ and the content hash too), so the cache is
keyed per film and per backbone: another backbone writes another folder and embeds everything.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model import ModelError
from model.backbone import BackboneError
from model.backbone.manifest import file_sha256
from model.backbone.runtime import Backbone
from model.cohort import FILM_COLUMNS, CohortFilm, read_films, read_meta
from model.features.films import CACHE_DIR, FilmLoadError, decode_display_image
from model.schemas import BackboneIdentity

log = logging.getLogger(__name__)

EMBEDDINGS_DIR = "embeddings"
INDEX = "index.jsonl"
_SAFE_UID = re.compile(r"^[0-9A-Za-z._-]{1,128}$")
Progress = Callable[[int, int], None]  # (films done, films in all)


@dataclass(slots=True)
class EmbedReport:
    """What one run did (printed by the CLI)."""

    out: Path
    backbone: BackboneIdentity
    films: int = 0
    embedded: int = 0
    cached: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (SOP Instance UID, reason)


@dataclass(frozen=True, slots=True)
class _Source:
    film: CohortFilm
    path: Path
    size: int
    mtime_ns: int


def cohort_backbone(meta: dict[str, object]) -> BackboneIdentity | None:
    """The backbone that embedded a cohort's films (``cohort.json``), if it says so."""
    found = meta.get("backbone")
    if not found:
        return None
    try:
        return BackboneIdentity.model_validate(found)
    except ValueError as exc:
        raise ModelError(f"cohort.json: unreadable backbone identity ({exc})") from exc


def _vector_name(uid: str) -> str:
    if _SAFE_UID.match(uid):
        return f"{uid}.npy"
    return f"{hashlib.sha256(uid.encode()).hexdigest()[:32]}.npy"


def _read_index(path: Path) -> dict[str, dict[str, object]]:
    """Entries by SOP Instance UID (later lines win; a torn last line is ignored)."""
    entries: dict[str, dict[str, object]] = {}
    if not path.exists():
        return entries
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # an interrupted write: that film is embedded again
            if isinstance(entry, dict) and isinstance(entry.get("uid"), str):
                entries[entry["uid"]] = entry
    return entries


def _cached(
    source: _Source, entry: dict[str, object] | None, folder: Path
) -> dict[str, object] | None:
    """The cache entry still valid for ``source`` (refreshed when only its time changed)."""
    if entry is None or not (folder / str(entry.get("file", ""))).is_file():
        return None
    if (entry.get("size"), entry.get("mtime_ns")) == (source.size, source.mtime_ns):
        return entry
    if entry.get("size") == source.size and entry.get("sha256") == file_sha256(source.path):
        return {**entry, "mtime_ns": source.mtime_ns}  # same content, touched or copied
    return None


def _check_output(cohort_dir: Path, out: Path) -> None:
    if out.resolve() == cohort_dir.resolve():
        raise ModelError("--out must be a new directory, not the cohort itself")
    meta_path = out / "cohort.json"
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{meta_path} is unreadable ({exc}); choose another --out") from exc
        if not isinstance(meta, dict) or meta.get("embedded_from") != str(cohort_dir.resolve()):
            raise ModelError(f"{out} holds another cohort; choose an empty or new --out")
    elif out.exists() and any(p.name != EMBEDDINGS_DIR for p in out.iterdir()):
        raise ModelError(f"{out} is not empty and not an embed-films output; choose another --out")


def _sources(cohort_dir: Path, films: list[CohortFilm], report: EmbedReport) -> list[_Source]:
    seen: dict[str, str] = {}
    sources = []
    for film in films:
        if film.path.endswith(".npy"):
            raise ModelError(f"{cohort_dir}: its films are already embeddings ({film.path})")
        if seen.setdefault(film.sop_instance_uid, film.path) != film.path:
            raise ModelError(f"films.csv: SOP Instance UID {film.sop_instance_uid} appears twice")
        path = cohort_dir / film.path
        try:
            stat = path.stat()
        except OSError as exc:
            reason = f"cannot read {film.path}: {exc.strerror}"
            report.failed.append((film.sop_instance_uid, reason))
            continue
        sources.append(_Source(film, path, stat.st_size, stat.st_mtime_ns))
    return sources


_Prepared = list[tuple[_Source, str, np.ndarray | str]]


def _prepare(backbone: Backbone, batch: list[_Source]) -> _Prepared:
    """Read, hash and preprocess a batch: (source, sha256, tensor or the reason it failed)."""
    prepared: _Prepared = []
    for source in batch:
        try:
            data = source.path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            tensor = backbone.prepare(decode_display_image(data, source.film))
            prepared.append((source, sha, tensor))
        except (OSError, FilmLoadError, ModelError) as exc:
            prepared.append((source, "", str(exc)))
    return prepared


def _batches(items: list[_Source], size: int) -> Iterator[list[_Source]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _save_vector(folder: Path, name: str, vector: np.ndarray) -> None:
    tmp = folder / f".{name}.tmp"
    with tmp.open("wb") as handle:
        np.save(handle, vector.astype(np.float32))
    tmp.replace(folder / name)


def _embed_missing(
    backbone: Backbone,
    todo: list[_Source],
    folder: Path,
    *,
    batch_size: int,
    report: EmbedReport,
    tick: Callable[[], None],
) -> None:
    """Embed ``todo`` batch by batch, reading the next batch while the backbone runs."""
    with (folder / INDEX).open("a", encoding="utf-8") as index, ThreadPoolExecutor(1) as reader:
        batches = _batches(todo, batch_size)
        pending = next(batches, None)
        upcoming = reader.submit(_prepare, backbone, pending) if pending else None
        while upcoming is not None:
            prepared = upcoming.result()
            following = next(batches, None)
            upcoming = reader.submit(_prepare, backbone, following) if following else None
            ready = [(s, sha, x) for s, sha, x in prepared if isinstance(x, np.ndarray)]
            for source, _, reason in prepared:
                if isinstance(reason, str):
                    report.failed.append((source.film.sop_instance_uid, reason))
                    tick()
            if not ready:
                continue
            vectors = backbone.embed(np.stack([x for _, _, x in ready]), batch_size=batch_size)
            for (source, sha, _), vector in zip(ready, vectors, strict=True):
                name = _vector_name(source.film.sop_instance_uid)
                _save_vector(folder, name, vector)
                entry = {"uid": source.film.sop_instance_uid, "file": name, "size": source.size,
                         "mtime_ns": source.mtime_ns, "sha256": sha}  # fmt: skip
                index.write(json.dumps(entry) + "\n")
                report.embedded += 1
                tick()
            index.flush()
            os.fsync(index.fileno())


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists():
        if dst.stat().st_ino == src.stat().st_ino:
            return
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _write_cohort(
    cohort_dir: Path, out: Path, meta: dict[str, object], rows: list[list[str]], report: EmbedReport
) -> None:
    for item in sorted(cohort_dir.iterdir()):
        if item.is_file() and item.name not in ("cohort.json", "films.csv"):
            _link_or_copy(item, out / item.name)
    tmp = out / ".films.csv.tmp"
    with tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FILM_COLUMNS)
        writer.writerows(rows)
    tmp.replace(out / "films.csv")
    # training stacks the vectors into a cache keyed by paths: a re-embedded film keeps its path
    shutil.rmtree(out / CACHE_DIR, ignore_errors=True)
    described = {
        **meta,
        "backbone": report.backbone.model_dump(mode="json"),
        "embedded_from": str(cohort_dir.resolve()),
        "embedded_films": len(rows),
    }
    (out / "cohort.json").write_text(json.dumps(described, indent=2, sort_keys=True) + "\n")


def embed_cohort(
    cohort_dir: Path,
    backbone: Backbone,
    out: Path,
    *,
    batch_size: int = 16,
    progress: Progress | None = None,
) -> EmbedReport:
    """Embed every film of ``cohort_dir`` with ``backbone`` into the cohort ``out``.

    Films already embedded by this backbone (same file) are taken from ``out``'s cache; films
    that cannot be read are reported and left out of ``out/films.csv`` (their windows have no
    film). Interrupting loses at most the batch in hand: run it again to resume.
    """
    if batch_size < 1:
        raise BackboneError("batch size must be at least 1")
    meta = read_meta(cohort_dir)
    films = read_films(cohort_dir)
    _check_output(cohort_dir, out)
    report = EmbedReport(out=out, backbone=backbone.identity, films=len(films))
    folder = out / EMBEDDINGS_DIR / backbone.identity.key
    folder.mkdir(parents=True, exist_ok=True)
    entries = _read_index(folder / INDEX)
    sources = _sources(cohort_dir, films, report)
    done = len(report.failed)

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(films))

    todo = []
    refreshed = []
    for source in sources:
        entry = entries.get(source.film.sop_instance_uid)
        valid = _cached(source, entry, folder)
        if valid is None:
            todo.append(source)
            continue
        if valid is not entry:
            refreshed.append(valid)
        report.cached += 1
        tick()
    if refreshed:
        with (folder / INDEX).open("a", encoding="utf-8") as index:
            index.writelines(json.dumps(entry) + "\n" for entry in refreshed)
    _embed_missing(backbone, todo, folder, batch_size=batch_size, report=report, tick=tick)
    entries = _read_index(folder / INDEX)
    failed = {uid for uid, _ in report.failed}
    rows = []
    for film in films:
        entry = entries.get(film.sop_instance_uid)
        if entry is None or film.sop_instance_uid in failed:
            continue
        path = f"{EMBEDDINGS_DIR}/{backbone.identity.key}/{entry['file']}"
        rows.append([film.key, film.time.isoformat(), path, film.sop_instance_uid, film.view,
                     film.photometric, str(film.bits_stored), film.study_instance_uid,
                     film.series_instance_uid])  # fmt: skip
    _write_cohort(cohort_dir, out, meta, rows, report)
    log.info(
        "embed-films: %d films, %d embedded, %d cached, %d failed (%s)",
        report.films,
        report.embedded,
        report.cached,
        len(report.failed),
        backbone.identity.label,
    )
    return report
