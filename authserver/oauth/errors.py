"""OAuth error types beyond Authlib's: DPoP, targets, rate limits, always-401 client errors.

Every error we raise goes through ``safe_description``: RFC 6749 §5.2 allows only printable
ASCII without ``"`` and ``\\`` in ``error_description`` (Authlib refuses anything else with a
ValueError, a 500), yet descriptions quote what the caller sent so that they can fix it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import errors as rfc6749


def _allowed(char: str) -> bool:
    return "\x20" <= char <= "\x7e" and char not in '"\\'


def safe_description(text: str) -> str:
    """``text`` with every character RFC 6749 §5.2 forbids percent-encoded (as UTF-8).

    ``http://exämple.com`` reads ``http://ex%C3%A4mple.com``, ``"`` reads ``%22``.
    """
    if all(_allowed(char) for char in text):
        return text
    return "".join(char if _allowed(char) else _encode(char) for char in text)


def _encode(char: str) -> str:
    return quote(char.encode("utf-8", "surrogatepass"), safe="")


class _SafeDescription(OAuth2Error):
    def __init__(self, description: str | None = None, **kwargs: Any) -> None:
        super().__init__(safe_description(description) if description else None, **kwargs)


class InvalidClientError(_SafeDescription, rfc6749.InvalidClientError):
    """invalid_client, always 401 with ``WWW-Authenticate`` (DESIGN.md)."""

    def __init__(self, description: str) -> None:
        super().__init__(description=description, status_code=401)

    def get_headers(self) -> list[tuple[str, Any]]:
        # Fixed text only: a header never echoes request data (the body says what to fix).
        headers = [h for h in super().get_headers() if h[0] != "WWW-Authenticate"]
        return [*headers, ("WWW-Authenticate", 'Basic error="invalid_client"')]


class InvalidTargetError(_SafeDescription):
    """RFC 8693 ``invalid_target``: a requested bot is not available to this user."""

    error = "invalid_target"
    status_code = 400


class InvalidDPoPProofError(_SafeDescription):
    """RFC 9449 ``invalid_dpop_proof``."""

    error = "invalid_dpop_proof"
    status_code = 400


class RateLimitedError(_SafeDescription):
    """429 ``rate_limited`` with ``Retry-After``."""

    error = "rate_limited"
    status_code = 429

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description=description)
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, Any]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


class CredentialsFromBrowserError(_SafeDescription):
    """``invalid_request`` (400): client credentials arrived from a web page (``Origin`` set).

    Readable by that page (CORS), so the developer sees why in the browser console.
    """

    error = "invalid_request"
    status_code = 400

    def __init__(self, description: str, origin: str | None) -> None:
        super().__init__(description=description)
        self.origin = origin

    def get_headers(self) -> list[tuple[str, Any]]:
        headers = [*super().get_headers(), ("Vary", "Origin")]
        if self.origin:
            headers.append(("Access-Control-Allow-Origin", self.origin))
        return headers


class InvalidRequestError(_SafeDescription, rfc6749.InvalidRequestError):
    """invalid_request (400)."""


class InvalidGrantError(_SafeDescription, rfc6749.InvalidGrantError):
    """invalid_grant (400): code, refresh token, PKCE or DPoP-binding problems."""


class InvalidScopeError(_SafeDescription, rfc6749.InvalidScopeError):
    """invalid_scope (400)."""
