"""Discovery documents, JWKS, and the token, revocation and introspection endpoints."""

from __future__ import annotations

from typing import Any

from authlib.common.security import is_secure_transport
from authlib.consts import default_json_headers
from flask import Blueprint, Response, jsonify, request
from werkzeug.wrappers import Request

from .. import metrics, outages
from ..fastlane import FastLane
from ..oauth.dpop import ALGORITHMS as DPOP_ALGORITHMS
from ..oauth.grants.client_credentials import management_token_response
from ..oauth.server import WEB_ORIGIN, authorization_server, plain_secret_client
from ..oauth.tokens import TokenIssuer
from ..services import services

bp = Blueprint("oauth", __name__)

GRANT_TYPES = [
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "authorization_code",
    "refresh_token",
    "client_credentials",
]


def discovery_document() -> dict[str, Any]:
    issuer = services().settings.issuer
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/oauth/jwks",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "grant_types_supported": GRANT_TYPES,
        "response_types_supported": [],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "PS256", "RS256", "EdDSA"],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        "id_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["pairwise"],
        "scopes_supported": ["chat", "manage"],
        "claims_supported": ["sub", "sid", "nonce", "amr", "auth_time"],
        "authorization_response_iss_parameter_supported": False,
    }


def _no_store(response: Response, max_age: int | None = None) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={max_age}" if max_age else "no-store"
    return response


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def discovery() -> Response:
    return _no_store(jsonify(discovery_document()), max_age=300)


@bp.get("/oauth/jwks")
def jwks() -> Response:
    # Short cache: a next key is published at least one rotation before it signs.
    return _no_store(jsonify(services().keys.jwks()), max_age=300)


@bp.post("/oauth/token", provide_automatic_options=False)
def token() -> Response:
    """Reached only by what the fast lane leaves to the app (a chunked body, say)."""
    return token_answer(request)


def token_answer(req: Request) -> Response:
    """The token endpoint's answer, counted by grant type and outcome (an outage too).

    On the fast lane (``authserver.fastlane``) and in :func:`token` alike. A plain
    ``client_credentials`` request with a client secret is answered straight from the
    client cache and the key store; every other request by the Authlib endpoint.
    """
    grant_type = req.form.get("grant_type")
    try:
        response = _plain_client_credentials(req) or authorization_server.create_token_response(req)
    except Exception as exc:
        if outages.as_outage(exc) is not None:
            metrics.count_grant(grant_type, None)
        raise
    metrics.count_grant(grant_type, response)
    return response


def _plain_client_credentials(req: Request) -> Response | None:
    """The answer to a ``client_credentials`` request that is granted, with nothing unusual
    about it; None for any other request (the endpoint then decides)."""
    if req.args or "Origin" in req.headers:
        return None
    form: dict[str, str] = {}
    for name, value in req.form.items(multi=True):
        if value:  # RFC 6749 §3.1: an empty parameter counts as omitted
            if name in form:
                return None
            form[name] = value
    if form.get("grant_type") != "client_credentials" or form.get("scope") != "manage":
        return None
    svc = services()
    if not is_secure_transport(svc.settings.token_endpoint):
        return None
    client = plain_secret_client(form, req.headers, req.remote_addr)
    if client is None:
        return None
    body = management_token_response(TokenIssuer(svc.settings, svc.keys), client.id)
    response: Response = authorization_server.handle_response(200, body, list(default_json_headers))
    return response


def add_lanes(lane: FastLane) -> None:
    lane.add("POST", "/oauth/token", "/oauth/token", token_answer)


@bp.route("/oauth/token", methods=["OPTIONS"], provide_automatic_options=False)
def token_preflight() -> Response:
    """Let a page's cross-origin request with a client secret through the CORS preflight.

    Only so Chatframe can refuse it with a readable reason (and flag the secret): every
    confidential-client request that carries an Origin header is refused.
    """
    response = Response(status=204)
    origin = request.headers.get("Origin", "")
    if WEB_ORIGIN.match(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    response.headers["Vary"] = "Origin"
    return response


@bp.post("/oauth/revoke")
def revoke() -> Response:
    return authorization_server.create_endpoint_response("revocation")


@bp.post("/oauth/introspect")
def introspect() -> Response:
    return authorization_server.create_endpoint_response("introspection")
