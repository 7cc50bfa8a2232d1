"""Untrusted JSON and JWTs are read strictly; OAuth error descriptions never break Authlib."""

from __future__ import annotations

import base64
import json

import pytest

from authserver.oauth.errors import InvalidRequestError, InvalidScopeError, safe_description
from authserver.strictjson import StrictJSONError, compact_jws, loads, numeric_date


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"iat": NaN}', "NaN"),
        ('{"exp": Infinity}', "Infinity"),
        ('{"exp": -Infinity}', "Infinity"),
        ('{"exp": 1e999}', "finite"),
        ("[" * 100_000 + "]" * 100_000, "nest"),
        ("[" * 33 + "]" * 33, "nest"),
        ('{"a": {"b": ' * 20 + "1" + "}}" * 20, "nest"),
        ('{"sub": "\\ud800"}', "surrogate"),
        ('{"\\udfff": 1}', "surrogate"),
        ('{"sub": "a\\u0000b"}', "NUL"),
        ('{"a\\u0000": 1}', "NUL"),
    ],
)
def test_what_python_accepts_but_chatframe_refuses(text: str, why: str) -> None:
    with pytest.raises(StrictJSONError, match=why):
        loads(text)


@pytest.mark.parametrize("text", ["", "{", '{"a": 1,}', '{"sub": "a\nb"}', "[1] x", "'a'"])
def test_invalid_json_is_a_strict_json_error(text: str) -> None:
    # Every caller catches StrictJSONError: plain invalid JSON must raise it too, not a 500.
    with pytest.raises(StrictJSONError):
        loads(text)


def test_bytes_must_be_utf8() -> None:
    with pytest.raises(StrictJSONError, match="UTF-8"):
        loads(b'{"name": "\xff"}')
    assert loads('{"name": "exämple", "n": [1, 2.5, null, true]}'.encode()) == {
        "name": "exämple",
        "n": [1, 2.5, None, True],
    }


def test_nesting_up_to_the_limit_is_fine() -> None:
    assert loads("[" * 32 + "]" * 32) is not None


def _segment(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def test_compact_jws_reads_header_and_payload_strictly() -> None:
    header, payload = _segment(b'{"alg":"ES256"}'), _segment(b'{"exp":1}')
    nan = _segment(b'{"exp": NaN}')
    control = _segment(b'{"sub": "a\nb"}')  # a raw control character: invalid JSON
    assert compact_jws(f"{header}.{payload}.sig") == ({"alg": "ES256"}, {"exp": 1})
    for token in (
        f"{header}.{nan}.sig",
        f"{header}.{_segment(b'[1]')}.sig",
        f"{header}.{payload}",
        f"{header}.{payload}.sig.extra",
        f"{header}!.{payload}.sig",
        f"{header}.{payload}.sïg",
        f"{header}.{control}.sig",
        f"{_segment(b'{')}.{payload}.sig",
    ):
        with pytest.raises(StrictJSONError):
            compact_jws(token)


@pytest.mark.parametrize("value", [True, "1700000000", None, [1], 10**400, -(10**400)])
def test_numeric_dates_are_plausible_numbers(value: object) -> None:
    assert numeric_date(value) is None


def test_numeric_date_accepts_ints_and_floats() -> None:
    assert numeric_date(1_700_000_000) == 1_700_000_000.0
    assert numeric_date(1_700_000_000.5) == 1_700_000_000.5


def test_error_descriptions_escape_what_rfc6749_forbids() -> None:
    assert safe_description('origin "http://exämple.com\\"') == (
        "origin %22http://ex%C3%A4mple.com%5C%22"
    )
    assert safe_description("plain text stays as it is.") == "plain text stays as it is."
    assert safe_description("\ud800\n") == "%ED%A0%80%0A"
    # Authlib refuses such characters outright; our errors are built from them safely
    error = InvalidScopeError(f"Unknown scope {json.dumps('bötter', ensure_ascii=False)}")
    assert error.description == "Unknown scope %22b%C3%B6tter%22"
    assert InvalidRequestError('say "please"').description == "say %22please%22"
