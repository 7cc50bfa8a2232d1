"""The authorization server: Authlib's Flask server with our requests, client rules and grants."""

from __future__ import annotations

import re
from typing import Any

from authlib.common.security import is_secure_transport
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Flask, Response
from flask import request as flask_request
from werkzeug.wrappers import Request

from .. import events
from ..client_cache import ClientRecord
from ..events import EventType
from ..services import services
from .client_auth import PrivateKeyJwtAuth, unverified_claims
from .dpop import DPoPBinding, DPoPVerifier
from .errors import CredentialsFromBrowserError, InvalidClientError, InvalidRequestError
from .pkce import S256CodeChallenge
from .requests import ChatframeRequest, present_form, repeated

CONFIDENTIAL_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")

# Authlib raises some errors without a description; every answer must say what to do.
DEFAULT_DESCRIPTIONS = {
    "unsupported_grant_type": "Use one of the grant types listed in the discovery document.",
    "invalid_request": "The request is missing a required parameter (for example 'token').",
    "unsupported_token_type": "token_type_hint must be 'access_token' or 'refresh_token'.",
    "invalid_scope": "The requested scope is not allowed.",
    "invalid_grant": "The grant is invalid.",
    "invalid_client": "Client authentication failed.",
}


CREDENTIALS_FROM_BROWSER = (
    "Client credentials were sent from a web browser (this request has an Origin header): "
    "a client secret or private key must stay on your backend. Call Chatframe's /oauth/token "
    "from your server and give the page only the one-time embed code."
)
WEB_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.:\[\]-]{1,253}$")


def query_client(client_id: str) -> ClientRecord | None:
    return services().clients.get(client_id)


def claimed_client_id(request: ChatframeRequest) -> str | None:
    """Which client a failed authentication claimed to be (for the security event only)."""
    basic_id, _ = extract_basic_authorization(request.headers)
    if basic_id:
        return str(basic_id)
    assertion = request.form.get("client_assertion")
    if assertion:
        try:
            iss = unverified_claims(assertion).get("iss")
        except ValueError:
            return None
        return iss if isinstance(iss, str) else None
    client_id = request.form.get("client_id")
    return client_id if isinstance(client_id, str) else None


def sent_credentials(request: ChatframeRequest) -> bool:
    """Whether the request carries a client secret or a client assertion."""
    basic_id, _ = extract_basic_authorization(request.headers)
    return bool(
        basic_id or request.form.get("client_secret") or request.form.get("client_assertion")
    )


def browser_origin(request: ChatframeRequest) -> str | None:
    """The Origin header a browser stamped on this request, if any."""
    origin = request.headers.get("Origin")
    return origin[:300] if origin else None


def authentication_failure(request: ChatframeRequest, methods: list[str]) -> str:
    """Why client authentication failed, in words that name the fix."""
    if not sent_credentials(request):
        wanted = [m for m in methods if m != "none"] or methods
        return (
            "No client credentials were sent: authenticate with your client_id and client "
            "secret (" + " or ".join(wanted) + ")."
        )
    return (
        "Client authentication failed: the client secret is wrong or was rotated (or the "
        "client_id is unknown). Use the client's current secret; after a rotation the old "
        "one works only for its grace period, and a lost one can be rotated in the console."
    )


def _endpoint_url(request: Request) -> str:
    """This endpoint's public URL: the issuer's, whatever Host header the request carried."""
    return services().settings.issuer + request.path


def _repeat_refusal(request: Request) -> InvalidRequestError | None:
    """RFC 6749 §3.2: no parameter may be sent twice (an empty one counts as not sent)."""
    name = repeated(present_form(request))
    if name is None:
        return None
    return InvalidRequestError(
        f"The parameter '{name}' was sent more than once: send each parameter once."
    )


def _transport_refusal(request: Request) -> InvalidRequestError | None:
    """Authlib allows plain http only on loopback; our issuer decides, never the Host header.

    An https issuer (required in production) always passes. An http issuer on another host
    is a development set-up that needs ``AUTHLIB_INSECURE_TRANSPORT=1``; without it, answer
    400 saying so instead of letting Authlib's InsecureTransportError become a 500.
    """
    if is_secure_transport(_endpoint_url(request)):
        return None
    return InvalidRequestError(
        f"OAuth requires https, and this server's issuer {services().settings.issuer} is plain "
        "http on a host other than localhost: its operator must set CHATFRAME_ISSUER to an "
        "https:// URL (or, in development only, set AUTHLIB_INSECURE_TRANSPORT=1)."
    )


class ChatframeAuthorizationServer(AuthorizationServer):
    """Token endpoint, revocation and introspection, on Authlib's machinery."""

    def __init__(self) -> None:
        super().__init__(query_client=query_client, save_token=lambda token, request: None)

    def init_app(self, app: Flask, query_client: Any = None, save_token: Any = None) -> None:
        super().init_app(app, query_client, save_token)
        self.register_client_auth_method(
            "private_key_jwt",
            PrivateKeyJwtAuth(
                store=lambda: services().store,
                audiences=lambda: [
                    services().settings.issuer,
                    services().settings.token_endpoint,
                ],
            ),
        )
        from .endpoints import ChatframeIntrospectionEndpoint, ChatframeRevocationEndpoint
        from .grants.client_credentials import ManagementClientCredentialsGrant
        from .grants.embed_code import EmbedCodeGrant
        from .grants.refresh import RotatingRefreshTokenGrant
        from .grants.token_exchange import TokenExchangeGrant

        dpop = DPoPBinding(
            verifier_factory=lambda: DPoPVerifier(
                services().store, services().settings.dpop_leeway
            ),
            token_endpoint=lambda: services().settings.token_endpoint,
        )
        self.register_grant(TokenExchangeGrant)
        self.register_grant(EmbedCodeGrant, [S256CodeChallenge(), dpop])
        self.register_grant(RotatingRefreshTokenGrant, [dpop])
        self.register_grant(ManagementClientCredentialsGrant)
        self.register_endpoint(ChatframeRevocationEndpoint)
        self.register_endpoint(ChatframeIntrospectionEndpoint)

    def create_oauth2_request(self, request: Request | None) -> ChatframeRequest:
        request = flask_request if request is None else request
        return ChatframeRequest(request, uri=_endpoint_url(request))

    def create_token_response(self, request: Request | None = None) -> Response:
        """The token endpoint's answer to ``request`` (default: Flask's current request).

        The fast lane passes a plain werkzeug request: nothing here needs Flask's request
        context, only the app context.
        """
        request = flask_request if request is None else request
        if request.args:
            # Nothing sensitive may travel in a URL: refuse rather than silently ignore.
            error = InvalidRequestError(
                "Send token endpoint parameters in the form body, never in the URL."
            )
            return self.handle_error_response(None, error)
        refusal = _transport_refusal(request) or _repeat_refusal(request)
        if refusal is not None:
            return self.handle_error_response(None, refusal)
        return super().create_token_response(request)

    def create_endpoint_response(self, name: str, request: Request | None = None) -> Response:
        request = flask_request if request is None else request
        refusal = _transport_refusal(request) or _repeat_refusal(request)
        if refusal is not None:
            return self.handle_error_response(None, refusal)
        return super().create_endpoint_response(name, request)

    def handle_error_response(self, request: Any, error: Any) -> Response:
        if not error.description:
            error.description = DEFAULT_DESCRIPTIONS.get(error.error, "The request was refused.")
        return super().handle_error_response(request, error)

    def authenticate_client(
        self, request: ChatframeRequest, methods: list[str], endpoint: str = "token"
    ) -> ClientRecord:
        """Authenticate with Authlib's registry, then apply our rules: enabled, IP allowlist.

        Every failure is ``invalid_client`` (401): a caller learns nothing about which
        client ids exist.
        """
        request.failed_client = None
        # A browser stamps Origin on cross-origin requests; servers send none.
        origin = browser_origin(request) if sent_credentials(request) else None
        try:
            client: ClientRecord = super().authenticate_client(request, methods, endpoint)
        except Exception as exc:
            if getattr(exc, "error", None) != "invalid_client":
                raise
            if origin is not None:
                raise self._from_browser(origin) from exc
            if isinstance(exc, InvalidClientError):
                raise
            request.failed_client = query_client(claimed_client_id(request) or "")
            raise InvalidClientError(authentication_failure(request, methods)) from exc
        if origin is not None and request.auth_method in CONFIDENTIAL_METHODS:
            # The credentials are right, so they now sit in a web page: flag them for rotation.
            events.record(
                EventType.SECRET_EXPOSED,
                customer_id=client.customer_id,
                client_id=client.id,
                ip=request.client_ip,
                origin=origin,
                auth_method=request.auth_method,
                endpoint=endpoint,
            )
            raise self._from_browser(origin, exposed=True)
        if not client.enabled:
            request.failed_client = client
            raise InvalidClientError("This client is disabled.")
        if request.auth_method in CONFIDENTIAL_METHODS and not client.allows_ip(request.client_ip):
            request.failed_client = client
            request.ip_refused = True
            raise InvalidClientError(
                f"The caller's IP address {request.client_ip} is not in this client's allowlist."
            )
        return client

    @staticmethod
    def _from_browser(origin: str, exposed: bool = False) -> CredentialsFromBrowserError:
        description = CREDENTIALS_FROM_BROWSER
        if exposed:
            description += (
                " This client's credentials are now exposed: rotate its secret (console:"
                " Clients, or chatframe clients rotate-secret) or its private key."
            )
        # Readable by the page only when it is a plain web origin (never echo anything else).
        return CredentialsFromBrowserError(
            description, origin if WEB_ORIGIN.match(origin) else None
        )


authorization_server = ChatframeAuthorizationServer()
