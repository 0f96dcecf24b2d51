"""MIMIC-CXR-JPG films linked to the stays, for ``films.csv``.

``mimic-cxr-2.0.0-metadata.csv`` gives each image's ``subject_id`` (the MIMIC-IV patient; MIMIC-CXR
dates are shifted like MIMIC-IV's, so times compare directly), ``StudyDate`` (YYYYMMDD) and
``StudyTime`` (HHMMSS.fff, written as a number, so leading zeros may be missing) and
``ViewPosition``. Frontal films (AP — the portable ICU film — and PA) acquired from ``pre_stay_h``
before ``intime`` to the stay's end are linked to the stay; the images are not read here: the
cohort points at ``files/pXX/pNNNNNNNN/sSSSSSSSS/<dicom_id>.jpg`` in the JPG tree, and training
reads each one when it first needs it (and caches the preprocessed tensor).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from model.cohorts.mimic.engine import Engine
from model.cohorts.mimic.tables import Table

FRONTAL_VIEWS = ("AP", "PA")
#: MIMIC-CXR-JPG images are 8-bit greyscale JPEGs, already windowed for display (higher = denser).
JPG_PHOTOMETRIC = "MONOCHROME2"
JPG_BITS = 8


@dataclass(frozen=True, slots=True)
class LinkedFilm:
    key: str
    time: datetime
    path: Path
    dicom_id: str
    study_id: str
    view: str


def jpg_path(files: Path, subject_id: int, study_id: int, dicom_id: str) -> Path:
    """Where MIMIC-CXR-JPG keeps one image."""
    subject = str(subject_id)
    return files / f"p{subject[:2]}" / f"p{subject}" / f"s{study_id}" / f"{dicom_id}.jpg"


def link_films(
    engine: Engine, metadata: Table, *, pre_stay_h: float
) -> tuple[list[LinkedFilm], Counter[str]]:
    """Frontal films taken during (or up to ``pre_stay_h`` before) a selected stay, whose JPG
    exists; returns them sorted by stay and time, and the reasons other images were left out."""
    engine.run(
        "read MIMIC-CXR metadata",
        f"""
        CREATE TABLE cxr AS
        SELECT dicom_id, subject_id, study_id, upper(trim(ViewPosition)) AS view,
               try_strptime(trim(StudyDate) || lpad(split_part(trim(StudyTime), '.', 1), 6, '0'),
                            '%Y%m%d%H%M%S') AS time
        FROM {metadata.scan()}
        """,
    )
    rejected: Counter[str] = Counter()
    views = ", ".join(f"'{v}'" for v in FRONTAL_VIEWS)
    for view, n in engine.rows(
        "count views",
        f"SELECT coalesce(nullif(view, ''), 'none'), count(*) FROM cxr "
        f"WHERE coalesce(view, '') NOT IN ({views}) GROUP BY 1",
    ):
        rejected[f"view {view} (only AP/PA films are used)"] = int(n)
    rejected["no readable StudyDate/StudyTime"] = engine.scalar(
        "count times", f"SELECT count(*) FROM cxr WHERE view IN ({views}) AND time IS NULL"
    )
    rows = engine.rows(
        "link films",
        f"""
        SELECT s.key, s.stay_id, c.time, c.subject_id, c.study_id, c.dicom_id, c.view
        FROM cxr c JOIN stays s ON s.subject_id = c.subject_id
             AND c.time >= s.intime - INTERVAL ({pre_stay_h}) HOUR AND c.time <= s.stay_end
        WHERE c.view IN ({views})
        ORDER BY s.stay_id, c.time, c.dicom_id
        """,
    )
    linked_ids = {str(r[5]) for r in rows}
    rejected["not taken during (or shortly before) a selected ICU stay"] = engine.scalar(
        "count unlinked",
        f"SELECT count(*) FROM cxr WHERE view IN ({views}) AND time IS NOT NULL",
    ) - len(linked_ids)
    files = metadata.path.parent.resolve() / "files"
    films: list[LinkedFilm] = []
    for key, _stay, time, subject, study, dicom_id, view in rows:
        path = jpg_path(files, int(subject), int(study), str(dicom_id))
        if not path.is_file():
            rejected["JPG not in the files/ tree (not downloaded?)"] += 1
            continue
        films.append(
            LinkedFilm(str(key), time.replace(tzinfo=UTC), path, str(dicom_id), str(study), view)
        )
    return films, +rejected
