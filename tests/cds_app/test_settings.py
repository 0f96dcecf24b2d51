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
    monkeypatch.setenv("VENTFUSION_SECURITY__PSEUDONYM_KEY", "k" * 32)
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


@pytest.mark.parametrize("mode", ["INSECURE", "DEMO"])
@pytest.mark.parametrize(
    "reachable",
    [{"VENTFUSION_HOST": "0.0.0.0"}, {"VENTFUSION_PUBLIC_BASE_URL": "https://cds.example.org"}],
)
def test_loopback_only_modes_are_refused_when_reachable_from_elsewhere(
    monkeypatch: pytest.MonkeyPatch, mode: str, reachable: dict[str, str]
) -> None:
    monkeypatch.setenv("VENTFUSION_SECURITY__PSEUDONYM_KEY", "k" * 32)
    monkeypatch.setenv(f"VENTFUSION_HOOKS__{mode}", "true")
    for name, value in reachable.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="non-loopback"):
        Settings()


def test_loopback_mode_is_bind_and_public_url() -> None:
    assert Settings().loopback_mode
    assert Settings().embedded_default
    assert Settings(public_base_url="http://localhost:9000").loopback_mode
    behind_proxy = Settings.model_validate(
        {"public_base_url": "https://cds.example.org", "security": {"pseudonym_key": "k" * 32}}
    )
    assert not behind_proxy.loopback_mode


def test_performance_settings_are_read_and_reach_the_listener(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cds_app.dicom_wiring import listener_config

    monkeypatch.setenv("VENTFUSION_HOOKS__COMPUTE_SLOTS", "3")
    monkeypatch.setenv("VENTFUSION_DICOM__PROCESSING_QUIET_S", "0")
    monkeypatch.setenv("VENTFUSION_DICOM__PROCESSING_MAX_WAIT_S", "0.5")
    settings = Settings()
    assert settings.hooks.compute_slots == 3
    config = listener_config(settings)
    assert (config.processing_quiet_s, config.processing_max_wait_s) == (0.0, 0.5)
