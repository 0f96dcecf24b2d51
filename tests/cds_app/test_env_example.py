"""`.env.example` documents every setting, so operators can see all of them in one place."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from cds_app.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def _env_names(model: type[BaseModel], prefix: str) -> list[str]:
    names: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_documented() -> None:
    documented = {
        line.split("=", 1)[0].strip()
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    expected = {
        "DATABASE_URL" if name == "VENTFUSION_DATABASE_URL" else name
        for name in _env_names(Settings, "VENTFUSION_")
    }
    assert sorted(expected - documented) == []
