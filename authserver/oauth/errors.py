"""OAuth error types beyond Authlib's: DPoP, targets, rate limits, always-401 client errors."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import errors as rfc6749


class InvalidClientError(rfc6749.InvalidClientError):
    """invalid_client, always 401 with ``WWW-Authenticate`` (DESIGN.md)."""

    def __init__(self, description: str) -> None:
        super().__init__(description=description, status_code=401)


class InvalidTargetError(OAuth2Error):
    """RFC 8693 ``invalid_target``: a requested bot is not available to this user."""

    error = "invalid_target"
    status_code = 400


class InvalidDPoPProofError(OAuth2Error):
    """RFC 9449 ``invalid_dpop_proof``."""

    error = "invalid_dpop_proof"
    status_code = 400


class RateLimitedError(OAuth2Error):
    """429 ``rate_limited`` with ``Retry-After``."""

    error = "rate_limited"
    status_code = 429

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description=description)
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, Any]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


class CredentialsFromBrowserError(OAuth2Error):
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


InvalidRequestError = rfc6749.InvalidRequestError
InvalidGrantError = rfc6749.InvalidGrantError
InvalidScopeError = rfc6749.InvalidScopeError
