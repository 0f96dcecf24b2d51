from __future__ import annotations

import pytest

from cds_app.settings import Settings


def test_defaults_are_embedded_and_loopback() -> None:
    settings = Settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.host == "127.0.0.1"
    assert settings.base_url == "http://127.0.0.1:8000"


def test_database_url_is_read_unprefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db/vf")
    assert Settings().database_url == "postgresql+psycopg://u@db/vf"


def test_nested_sections_use_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENTFUSION_DICOM__PORT", "11999")
    monkeypatch.setenv("VENTFUSION_DICOM__ALLOWED_CALLING_AETS", '["PACSSIM"]')
    settings = Settings()
    assert settings.dicom.port == 11999
    assert settings.dicom.allowed_calling_aets == ["PACSSIM"]


def test_insecure_hooks_refused_off_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENTFUSION_HOST", "0.0.0.0")
    monkeypatch.setenv("VENTFUSION_HOOKS__INSECURE", "true")
    with pytest.raises(ValueError, match="non-loopback"):
        Settings()
