"""Settings: environment over secrets.toml, demo defaults, secrets never shown."""

from __future__ import annotations

import pytest

from sync_core.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_demo(tmp_path):
    settings = load_settings({}, secrets_file=tmp_path / "none.toml")
    assert settings.uses_demo_database and settings.uses_simulator
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("demo_mis.sqlite")
    assert settings.qbo_custom_fields == {}


def test_environment_wins_over_secrets_file(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        'MIS_DATABASE_URL = "mysql+pymysql://u:filepw@db/mis"\n'
        'QBO_ENVIRONMENT = "sandbox"\n'
        'QBO_CLIENT_SECRET = "from-file"\n'
        "[QBO_CUSTOM_FIELDS]\nCampus = 3\n"
    )
    settings = load_settings({"QBO_ENVIRONMENT": "production"}, secrets_file=secrets)
    assert settings.mis_database_url == "mysql+pymysql://u:filepw@db/mis"
    assert settings.qbo_environment == "production"
    assert settings.api_base_url == "https://quickbooks.api.intuit.com"
    assert settings.qbo_client_secret.reveal() == "from-file"
    assert settings.qbo_custom_fields == {"Campus": "3"}


def test_custom_fields_from_an_environment_string(tmp_path):
    settings = load_settings(
        {"QBO_CUSTOM_FIELDS": "Campus=1, Program = 2"}, secrets_file=tmp_path / "x.toml"
    )
    assert settings.qbo_custom_fields == {"Campus": "1", "Program": "2"}
    with pytest.raises(SettingsError, match="FieldName=DefinitionId"):
        load_settings({"QBO_CUSTOM_FIELDS": "Campus"}, secrets_file=tmp_path / "x.toml")


def test_overrides_point_at_any_quickbooks_compatible_endpoint(tmp_path):
    settings = load_settings(
        {
            "QBO_ENVIRONMENT": "sandbox",
            "QBO_API_BASE_URL": "http://127.0.0.1:9999/",
            "QBO_DISCOVERY_URL": "http://127.0.0.1:9999/.well-known/openid_configuration",
        },
        secrets_file=tmp_path / "x.toml",
    )
    assert settings.api_base_url == "http://127.0.0.1:9999"
    assert settings.discovery_url.startswith("http://127.0.0.1:9999/")


def test_bad_values_are_clear_errors(tmp_path):
    with pytest.raises(SettingsError, match="QBO_ENVIRONMENT"):
        load_settings({"QBO_ENVIRONMENT": "live"}, secrets_file=tmp_path / "x.toml")
    with pytest.raises(SettingsError, match="QBO_MAX_CONCURRENT"):
        load_settings({"QBO_MAX_CONCURRENT": "ten"}, secrets_file=tmp_path / "x.toml")


def test_secrets_never_show_in_repr_or_description(tmp_path):
    settings = load_settings(
        {
            "QBO_CLIENT_SECRET": "s3cr3t-value",
            "QBO_REFRESH_TOKEN": "rt-value-123",
            "QBO_TOKEN_KEY": "key-value-456",
            "MIS_DATABASE_URL": "mysql+pymysql://user:dbpass-789@host/mis",
        },
        secrets_file=tmp_path / "x.toml",
    )
    shown = repr(settings) + str(settings.describe())
    for secret in ("s3cr3t-value", "rt-value-123", "key-value-456"):
        assert secret not in shown
    assert "dbpass-789" not in shown
