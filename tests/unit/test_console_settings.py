"""The console's settings: sign-up open in development, closed in production unless set."""

from __future__ import annotations

import pytest

from authserver.config import ConfigError, load_settings

PRODUCTION = {
    "CHATFRAME_ENV": "production",
    "CHATFRAME_ISSUER": "https://chat.example.com",
    "CHATFRAME_SECRET_KEY": "x" * 48,
}


def test_sign_up_follows_the_environment_by_default() -> None:
    assert load_settings({}).console_signup_open is True
    assert load_settings(PRODUCTION).console_signup_open is False


@pytest.mark.parametrize(("raw", "open_"), [("true", True), ("1", True), ("off", False)])
def test_sign_up_can_be_set_either_way(raw: str, open_: bool) -> None:
    assert load_settings({"CHATFRAME_CONSOLE_SIGNUP": raw}).console_signup_open is open_
    production = {**PRODUCTION, "CHATFRAME_CONSOLE_SIGNUP": raw}
    assert load_settings(production).console_signup_open is open_


def test_bad_console_values_stop_start_up_with_a_clear_message() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(
            {
                "CHATFRAME_CONSOLE_SIGNUP": "maybe",
                "CHATFRAME_CONSOLE_LOCKOUT_AFTER": "0",
                "CHATFRAME_CONSOLE_LOCKOUT_SECONDS": "soon",
            }
        )
    message = str(info.value)
    assert "CHATFRAME_CONSOLE_SIGNUP must be 'true' or 'false', not 'maybe'" in message
    assert "CHATFRAME_CONSOLE_LOCKOUT_AFTER must be between 1 and 100" in message
    assert "CHATFRAME_CONSOLE_LOCKOUT_SECONDS must be a whole number" in message


def test_lockout_defaults() -> None:
    settings = load_settings({})
    assert (settings.console_lockout_after, settings.console_lockout_seconds) == (5, 60)
