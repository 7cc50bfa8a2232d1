"""Known 5xx/acceptances of issue 8 that another change fixes: recognised, counted, reported.

The generators keep producing these inputs so the merged result proves the fixes. Until then a
5xx is tolerated only when the request carries one of the inputs below *and* the item is still
listed in ``OPEN_ITEMS``; every other 5xx fails the fuzz test. The fuzz summary prints how many
requests of each item still failed. Remove an item from ``OPEN_ITEMS`` once its fix is merged.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

# issue 8 item N: the known failures another engineer fixes (numbered as in the brief's list).
OPEN_ITEMS: dict[int, str] = {
    1: "NaN/Infinity in JWT/DPoP claims",
    2: "future nbf/iat",
    3: "DPoP htu with bad port/host",
    4: "DPoP jwk with unknown crv",
    5: "deeply nested JSON",
    6: "lone surrogates in JSON",
    7: "NUL bytes in strings reaching PostgreSQL",
    8: "non-UTF-8 Basic credentials",
    9: "error_description echoing IDN origins/quotes",
    10: "WWW-Authenticate echoing the request path",
    11: "non-loopback Host over http on /oauth/*",
}

_JWS = re.compile(rb"[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_KNOWN_CURVES = {("EC", "P-256"), ("EC", "P-384"), ("EC", "P-521"), ("OKP", "Ed25519")}
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _b64json(segment: bytes) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))
    except ValueError:
        return None


def _jwts(raw: bytes) -> list[tuple[Any, Any]]:
    """(header, payload) of everything in ``raw`` that looks like a compact JWS."""
    found = []
    for match in _JWS.finditer(raw):
        parts = match.group().split(b".")
        found.append((_b64json(parts[0]), _b64json(parts[1])))
    return found


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return False


def _future(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > time.time()


def _raw(request: Any) -> bytes:
    """Everything the request carried, percent-decoded where it was percent-encoded."""
    head = b"\n".join(f"{k}: {v}".encode("utf-8", "surrogateescape") for k, v in request.headers)
    for name, value in request.headers:
        if name.lower() == "authorization" and value[:6].lower() == "basic ":
            with contextlib.suppress(ValueError):
                head += b"\n" + base64.b64decode(value[6:].strip())
    return b"\n".join(
        [
            unquote_to_bytes(request.path),
            unquote_to_bytes(request.query),
            head,
            request.body,
            unquote_to_bytes(request.body.replace(b"+", b" ")),
        ]
    )


def _items(backend: str, request: Any) -> list[int]:
    raw = _raw(request)
    items = []
    tokens = _jwts(raw)
    if any(_non_finite(payload) for _, payload in tokens):
        items.append(1)
    if any(
        isinstance(p, dict) and (_future(p.get("nbf")) or _future(p.get("iat"))) for _, p in tokens
    ):
        items.append(2)
    for header, payload in tokens:
        if isinstance(payload, dict) and isinstance(payload.get("htu"), str):
            try:
                _ = urlsplit(payload["htu"]).port
            except ValueError:
                items.append(3)
        jwk = header.get("jwk") if isinstance(header, dict) else None
        if isinstance(jwk, dict) and (jwk.get("kty"), jwk.get("crv")) not in _KNOWN_CURVES:
            items.append(4)
    if re.search(rb"(\[\s*){100}|(\{\"[^\"]*\":\s*){100}", raw):
        items.append(5)
    if _SURROGATE.search(raw):
        items.append(6)
    if backend == "postgres" and (b"\x00" in raw or b"\\u0000" in raw):
        items.append(7)
    for name, value in request.headers:
        if name.lower() == "authorization" and value[:6].lower() == "basic ":
            try:
                base64.b64decode(value[6:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                items.append(8)
        if name.lower() == "host" and request.path.startswith("/oauth/"):
            items.append(11)
    # Authlib refuses to send an error_description with quotes, backslashes, controls or
    # non-ASCII: echoing such an origin raises instead of answering.
    if re.search(rb"origin=[^&]*(%[01789A-F][0-9A-F]|%22|%27|%5C|xn--)", request.body, re.I):
        items.append(9)
    if re.search(rb"[^\x20-\x7e]|%[0189A-F][0-9A-F]|%22|%5C", request.path.encode(), re.I):
        items.append(10)
    return items


def known_issue_for(backend: str, request: Any, exception: BaseException | None) -> str | None:
    """The open issue-8 item this 5xx belongs to, or None when it is a new failure."""
    try:
        found = _items(backend, request)
    except (TypeError, ValueError):  # an input too odd to classify is a new failure
        found = []
    items = [item for item in found if item in OPEN_ITEMS]
    kind = type(exception).__name__ if exception else "no exception"
    if kind == "InsecureTransportError" and request.path.startswith("/oauth/"):
        items.append(11)  # Authlib's https check on the request URL: item 11 whatever the Host
    # Where the exception names the item, trust it over the order of the list.
    if "forbidden characters" in str(exception) and 9 in items:
        items = [9]
    named = [("InsecureTransportError", 11), ("KeyError", 4), ("UnicodeDecodeError", 8)]
    for exception_kind, item in named:
        if kind == exception_kind and item in items:
            items = [item]
    if not items:
        return None
    return f"issue 8 item {items[0]} ({OPEN_ITEMS[items[0]]}; {kind}: {str(exception)[:80]})"
