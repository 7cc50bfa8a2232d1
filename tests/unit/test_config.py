"""Configuration is validated at start-up with a clear message for every bad value."""

from __future__ import annotations

import pytest

from authserver.config import ConfigError, Settings, load_settings


def test_defaults_match_the_contract() -> None:
    s = load_settings({})
    assert s.issuer == "http://localhost:8000" and s.env == "development"
    assert (s.code_ttl, s.access_token_ttl, s.id_token_ttl, s.session_ttl) == (60, 600, 3600, 43200)
    assert s.trusted_proxies == 0 and s.redis_url is None


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(
            {
                "CHATFRAME_ENV": "staging",
                "CHATFRAME_CODE_TTL": "sixty",
                "CHATFRAME_SESSION_TTL": "5",
                "CHATFRAME_ISSUER": "localhost:8000",
                "CHATFRAME_REDIS_URL": "http://cache",
            }
        )
    message = str(info.value)
    for fragment in (
        "CHATFRAME_ENV",
        "CHATFRAME_CODE_TTL",
        "CHATFRAME_SESSION_TTL",
        "CHATFRAME_ISSUER",
        "CHATFRAME_REDIS_URL",
    ):
        assert fragment in message


def test_production_refuses_the_default_secret_and_http_issuer() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"CHATFRAME_ENV": "production", "CHATFRAME_ISSUER": "http://chat.example"})
    assert "CHATFRAME_SECRET_KEY must be set" in str(info.value)
    assert "https://" in str(info.value)


def test_production_with_good_values_loads() -> None:
    s = load_settings(
        {
            "CHATFRAME_ENV": "production",
            "CHATFRAME_ISSUER": "https://chat.example/",
            "CHATFRAME_SECRET_KEY": "s" * 48,
            "CHATFRAME_TRUSTED_PROXIES": "1",
        }
    )
    assert s.production and s.issuer == "https://chat.example" and s.trusted_proxies == 1


def test_short_secret_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        load_settings({"CHATFRAME_SECRET_KEY": "short"})


def test_settings_replace_keeps_the_rest() -> None:
    s = Settings().replace(code_ttl=5)
    assert s.code_ttl == 5 and s.session_ttl == 43200
