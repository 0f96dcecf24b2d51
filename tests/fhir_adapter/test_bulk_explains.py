"""Issue 17 surprises 1 and 3: a bulk import that explains itself.

On the simulator's FHIR export (US Core style NDJSON): a wrong MRN system names the systems found
and the option to use and exits non-zero on the empty cohort; the complete rejection summary
(total, per variable, per reason) is written beside the cohort; Observations of Patients not yet
read are spooled to disk, not held in memory.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import orjson
import pytest

from cds_app.cli.main import main
from fhir_adapter.bulk import import_ndjson
from fhir_adapter.cohort_fhir_export import export_cohort_fhir
from model.cohort import read_cohort
from model.synth import DEFAULT_MRN_SYSTEM, SynthConfig, simulate
from tests.fhir_adapter.conftest import observation

OTHER_SYSTEM = "urn:oid:2.16.840.1.113883.19.5.99"
SUMMARY_FILE = "import-summary.json"  # beside the cohort, as the MIMIC importer's


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bulk-explains")
    simulate(SynthConfig(patients=6, seed=4, film_size=32), root / "cohort")
    export_cohort_fhir(root / "cohort", root / "ndjson")
    return root / "ndjson"


def _patients(export: Path) -> list[dict[str, object]]:
    return [orjson.loads(x) for x in (export / "Patient.ndjson").read_bytes().splitlines()]


def test_a_wrong_mrn_system_names_the_systems_found_and_fails(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cohort"
    code = main(["fhir-import", str(export), str(out), "--mrn-system", OTHER_SYSTEM])
    captured = capsys.readouterr()
    assert code == 1, captured.out
    n = len(_patients(export))
    assert f"{n} of {n} Patients have no identifier in the MRN system" in captured.out
    assert f"{DEFAULT_MRN_SYSTEM} ({n} patients)" in captured.out
    assert f"use --mrn-system {DEFAULT_MRN_SYSTEM}" in captured.out
    assert "is empty (0 patients" in captured.err
    assert f"rerun with --mrn-system {DEFAULT_MRN_SYSTEM}" in captured.err
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["identifier_systems"] == {DEFAULT_MRN_SYSTEM: n}
    # every Observation is accounted for as belonging to a patient without MRN
    observations = len((export / "Observation.ndjson").read_bytes().splitlines())
    assert summary["rejected_by_reason"]["observation of a patient without MRN"] == observations


def test_the_suggested_system_imports_the_cohort(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cohort"
    assert main(["fhir-import", str(export), str(out), "--mrn-system", DEFAULT_MRN_SYSTEM]) == 0
    text = capsys.readouterr().out
    assert "have no identifier" not in text
    assert f"cohort written to {out}" in text
    assert len(read_cohort(out).patients) == len(_patients(export))


def _with_out_of_range_values(export: Path, dest: Path) -> tuple[int, int]:
    """The export plus implausible diastolic pressures and PaCO2s (both range [10, 200])."""
    dest.mkdir()
    for path in export.glob("*.ndjson"):
        (dest / path.name).write_bytes(path.read_bytes())
    pid = _patients(export)[0]["id"]
    bad = [
        {**observation("8462-4", 200 + i, "mm[Hg]", patient=f"Patient/{pid}"), "id": f"d{i}"}
        for i in range(1, 8)
    ] + [
        {
            **observation("2019-8", 300 + i, "mm[Hg]", patient=f"Patient/{pid}", category="lab"),
            "id": f"c{i}",
        }
        for i in range(1, 4)
    ]
    with (dest / "Observation.ndjson").open("ab") as handle:
        handle.write(b"".join(orjson.dumps(o) + b"\n" for o in bad))
    return 7, 3


def test_the_rejection_summary_is_complete_and_names_the_variable(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "ndjson", tmp_path / "cohort"
    n_dbp, n_paco2 = _with_out_of_range_values(export, src)
    assert main(["fhir-import", str(src), str(out), "--top", "1"]) == 0
    text = capsys.readouterr().out
    summary = json.loads((out / SUMMARY_FILE).read_text())
    by_variable = summary["rejected_by_variable"]
    assert by_variable["dbp"] == n_dbp
    assert by_variable["paco2"] == n_paco2
    assert summary["rejected_total"] == sum(by_variable.values())
    assert summary["rejected_total"] == sum(summary["rejected_by_reason"].values())
    # one line per (variable, reason), the values left out: seven values, one group
    assert {"variable": "dbp", "reason": "outside the physiological range [10, 200] mm[Hg]",
            "count": n_dbp} in summary["rejections"]  # fmt: skip
    assert f"not used: {summary['rejected_total']} in 2 (variable, reason) groups" in text
    assert f"{n_dbp} x dbp: outside the physiological range [10, 200] mm[Hg]" in text
    assert f"1 more groups in {SUMMARY_FILE}" in text


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            "paco2: 412 mm[Hg] is outside the physiological range [10, 200]",
            ("paco2", "outside the physiological range [10, 200] mm[Hg]"),
        ),
        ("heart_rate: unknown unit 'beats'", ("heart_rate", "unknown unit 'beats'")),
        ("no mapped code", ("-", "no mapped code")),
        ("status 'preliminary' not used", ("-", "status 'preliminary' not used")),
    ],
)
def test_rejection_keys(text: str, key: tuple[str, str]) -> None:
    from fhir_adapter.bulk_summary import rejection_key

    assert rejection_key(text) == key


def test_observations_before_their_patient_are_spooled_not_held(tmp_path: Path) -> None:
    """20,000 Observations read before their Patient: imported, and the import's Python heap
    stays far below what holding them would take (about 2 kB each decoded)."""
    src = tmp_path / "ndjson"
    src.mkdir()
    n = 20_000
    lines = [
        orjson.dumps(
            {**observation("8867-4", 60 + i % 50, "/min", patient="Patient/late"), "id": f"o{i}"}
        )
        for i in range(n)
    ]
    late = {
        "resourceType": "Patient",
        "id": "late",
        "identifier": [{"system": OTHER_SYSTEM, "value": "MRN-LATE"}],
    }
    # one mixed file: the Patient comes after its Observations
    (src / "export.ndjson").write_bytes(b"\n".join([*lines, orjson.dumps(late)]) + b"\n")
    tracemalloc.start()
    try:
        report = import_ndjson(src, tmp_path / "cohort", mrn_system=OTHER_SYSTEM)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.observations == n
    assert report.measurements == n
    assert report.rejected["observation of an unknown patient"] == 0
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
