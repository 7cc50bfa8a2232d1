"""An OAuth2 request that reads parameters from the form body only, never from the URL."""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from flask import Request


class FormPayload(OAuth2Payload):
    def __init__(self, request: Request) -> None:
        self._request = request

    @property
    def data(self) -> Any:
        return self._request.form

    @cached_property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key in self._request.form:
            values[key].extend(self._request.form.getlist(key))
        return values


class ChatframeRequest(OAuth2Request):
    """Authlib request plus the caller's IP (after ``CHATFRAME_TRUSTED_PROXIES``).

    ``uri`` is the endpoint's URL under the issuer, never one built from the request's Host
    header: Authlib checks transport security on it, so that check follows the issuer
    configuration, whatever Host a caller (or the proxy in front of us) sends.
    """

    def __init__(self, request: Request, uri: str) -> None:
        super().__init__(method=request.method, uri=uri, headers=request.headers)
        self._request = request
        self.payload = FormPayload(request)
        self.client_ip: str | None = request.remote_addr

    @property
    def args(self) -> Any:
        return self._request.args

    @property
    def form(self) -> Any:
        return self._request.form

    def param(self, name: str) -> str | None:
        """One form parameter; refuses repeats, as RFC 6749 §3.2 requires."""
        from .errors import InvalidRequestError

        values = self._request.form.getlist(name)
        if len(values) > 1:
            raise InvalidRequestError(f"The parameter '{name}' was sent more than once.")
        return values[0] if values else None

    def require(self, name: str) -> str:
        from .errors import InvalidRequestError

        value = self.param(name)
        if not value:
            raise InvalidRequestError(f"The '{name}' parameter is required.")
        return value
