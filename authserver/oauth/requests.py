"""An OAuth2 request that reads parameters from the form body only, never from the URL.

RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted from the
request", so the form every grant, endpoint and client authentication reads here has its empty
values dropped; and (§3.2) "parameters MUST NOT be included more than once", so a parameter
Chatframe reads that still appears twice is refused before any of them runs (``repeated``).
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request

from .errors import InvalidRequestError

# Every form parameter an OAuth endpoint of Chatframe reads. Others are ignored (RFC 6749 §3.2),
# repeated or not: RFC 8707 ``resource`` and RFC 8693 ``audience`` may even be repeated.
KNOWN_PARAMETERS = frozenset(
    {
        "grant_type", "code", "code_verifier", "redirect_uri", "client_id", "client_secret",
        "client_assertion", "client_assertion_type", "scope", "refresh_token", "subject_token",
        "subject_token_type", "requested_token_type", "actor_token", "actor_token_type",
        "origin", "code_challenge", "code_challenge_method", "dpop_jkt", "nonce", "token",
        "token_type_hint",
    }
)  # fmt: skip


def present_form(request: Request) -> MultiDict[str, str]:
    """The form body without its empty values: an empty parameter counts as omitted."""
    return MultiDict([(k, v) for k, v in request.form.items(multi=True) if v])


def repeated(form: MultiDict[str, str]) -> str | None:
    """The first parameter Chatframe reads that the form carries more than once, if any."""
    for name in form:
        if name in KNOWN_PARAMETERS and len(form.getlist(name)) > 1:
            return name
    return None


class FormPayload(OAuth2Payload):
    def __init__(self, form: MultiDict[str, str]) -> None:
        self._form = form

    @property
    def data(self) -> Any:
        return self._form

    @cached_property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key in self._form:
            values[key].extend(self._form.getlist(key))
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
        self._form = present_form(request)
        self.payload = FormPayload(self._form)
        self.client_ip: str | None = request.remote_addr

    @property
    def args(self) -> Any:
        return self._request.args

    @property
    def form(self) -> Any:
        return self._form

    def param(self, name: str) -> str | None:
        """One form parameter; refuses repeats, as RFC 6749 §3.2 requires."""
        values = self._form.getlist(name)
        if len(values) > 1:
            raise InvalidRequestError(f"The parameter '{name}' was sent more than once.")
        return values[0] if values else None

    def require(self, name: str) -> str:
        value = self.param(name)
        if not value:
            raise InvalidRequestError(f"The '{name}' parameter is required.")
        return value
