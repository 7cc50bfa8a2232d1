"""Strict JSON for everything a caller sends: request bodies, cursors, JWT headers and claims.

Python's ``json`` accepts ``NaN`` and ``Infinity`` (which compare False with everything, so
``abs(now - NaN) > leeway`` lets a proof through), any nesting depth (a RecursionError, a 500)
and lone surrogates or NUL in strings (which PostgreSQL and UTF-8 encoders refuse later, a 500).
Every parse of untrusted JSON goes through ``loads`` so those are refused up front, with a
ValueError saying why.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32
MAX_NUMERIC_DATE = 95_617_584_000  # 5000-01-01T00:00:00Z


class StrictJSONError(ValueError):
    """Untrusted JSON that Chatframe will not read; the message says why."""


def _no_constants(name: str) -> Any:
    raise StrictJSONError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJSONError("numbers must be finite")
    return value


def loads(data: str | bytes | bytearray) -> Any:
    """Parse UTF-8 JSON, refusing non-finite numbers, deep nesting, NUL and lone surrogates."""
    if isinstance(data, bytes | bytearray):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise StrictJSONError("JSON must be UTF-8 encoded") from None
    try:
        value = json.loads(data, parse_constant=_no_constants, parse_float=_finite_float)
    except RecursionError:
        raise StrictJSONError(f"JSON may nest at most {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:  # callers catch StrictJSONError: one error for all
        raise StrictJSONError(str(exc)) from None
    _check(value)
    return value


def _check(root: Any) -> None:
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_string(value)
        elif isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise StrictJSONError(f"JSON may nest at most {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_string(key)
                stack.append((item, depth + 1))


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise StrictJSONError("JSON strings must not contain NUL characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise StrictJSONError(
                "JSON strings must be valid Unicode (no lone surrogates)"
            ) from None


def b64url_decode(segment: str) -> bytes:
    """Unpadded base64url (RFC 7515 §2) to bytes; StrictJSONError (a ValueError) if it is not."""
    try:
        return base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise StrictJSONError("a JWS segment is not base64url") from None


def json_object(segment: str, what: str) -> dict[str, Any]:
    """One base64url JWS segment (``what``: header or payload) as a strictly read JSON object."""
    value = loads(b64url_decode(segment))
    if not isinstance(value, dict):
        raise StrictJSONError(f"the {what} is not a JSON object")
    return value


def compact_parts(token: str) -> list[str]:
    """A compact JWS's three segments (header, payload, signature), not yet decoded."""
    parts = token.split(".")
    if len(parts) != 3 or not token.isascii():
        raise StrictJSONError("it is not a compact JWS (three base64url parts)")
    return parts


def compact_jws(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload of a compact JWS, read strictly but *not* verified.

    Run before handing a token to joserfc (whose JSON parsing is Python's own), so whatever
    it then reads has passed the same rules as every other untrusted JSON.
    """
    parts = compact_parts(token)
    return json_object(parts[0], "header"), json_object(parts[1], "payload")


def numeric_date(value: Any) -> float | None:
    """A JWT NumericDate (RFC 7519 §2) as seconds, or None if it is not a plausible one.

    Booleans, strings and anything beyond year 5000 (where float arithmetic on a huge
    integer would overflow) are not times.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE:
        return None
    return float(value)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with ``loads`` made strict: ``request.get_json`` refuses bad JSON."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)
