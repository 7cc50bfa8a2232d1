"""Validate what customers send: embed origins (IDN as punycode), IP allowlist entries, times."""

from __future__ import annotations

import datetime as dt
import ipaddress
from urllib.parse import urlsplit

import idna


def normalize_origin(value: str, *, production: bool) -> str:
    """Return the exact origin ``scheme://host[:port]``, or raise ValueError saying why."""
    raw = value.strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{raw!r} is not an origin: use scheme://host[:port], e.g. https://app.example.com"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{raw!r} is not an origin: drop the path, query and credentials")
    if "*" in raw:
        raise ValueError(f"{raw!r}: wildcards are not allowed; register each exact origin")
    if production and parts.scheme != "https":
        raise ValueError(f"{raw!r}: production requires https:// origins")
    host = ascii_host(parts.hostname, raw)
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def ascii_host(hostname: str, raw: str) -> str:
    """The host in lower case, an internationalised domain name as punycode (``xn--``).

    Browsers send hosts in that form in ``Origin`` and ``event.origin`` (UTS #46, as the URL
    standard does), and CSP ``frame-ancestors`` accepts no other, so origins are stored in it.
    """
    host = hostname.lower()
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"{raw!r} is not an origin: its host is not a valid domain name") from exc


def ascii_origin(value: str) -> str | None:
    """``value`` as a browser would send it as an origin, or None if it is not an origin."""
    try:
        return normalize_origin(value, production=False)
    except ValueError:
        return None


def normalize_cidr(value: str) -> str:
    """Return a canonical CIDR block (a bare address becomes /32 or /128)."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError as exc:
        raise ValueError(
            f"{value!r} is not an IP address or CIDR block (e.g. 203.0.113.0/24)"
        ) from exc


def parse_timestamp(value: str) -> dt.datetime:
    """Read ISO 8601 (no zone means UTC) or Unix seconds as an aware UTC moment."""
    raw = value.strip()
    try:
        if raw.lstrip("-").replace(".", "", 1).isdigit():
            return dt.datetime.fromtimestamp(float(raw), dt.UTC)
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError) as exc:
        raise ValueError(
            f"{raw!r} is not a time: use ISO 8601 such as 2026-05-01T12:00:00Z, or Unix seconds"
        ) from exc
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
