"""Discovery documents, JWKS, and the token, revocation and introspection endpoints."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import Any

from authlib.common.security import is_secure_transport
from authlib.consts import default_json_headers
from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.wrappers import Request

from .. import metrics, outages
from ..client_cache import secret_matches
from ..edge import SECURITY_HEADER_PAIRS, header_has_nul
from ..fastlane import FastLane
from ..oauth.dpop import ALGORITHMS as DPOP_ALGORITHMS
from ..oauth.grants.client_credentials import management_token_response
from ..oauth.server import WEB_ORIGIN, authorization_server
from ..oauth.tokens import TokenIssuer
from ..services import Services, services

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

    On the fast lane (``authserver.fastlane``) and in :func:`token` alike; a plain
    ``client_credentials`` request may have been answered before either, by
    :func:`plain_client_credentials`.
    """
    grant_type = req.form.get("grant_type")
    try:
        response = authorization_server.create_token_response(req)
    except Exception as exc:
        if outages.as_outage(exc) is not None:
            metrics.count_grant(grant_type, None)
        raise
    metrics.count_grant(grant_type, response)
    return response


# Form values and Basic credentials made only of these need no decoding (no %, no +), so what
# the shortcut reads is exactly what the endpoint would parse.
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")
_PLAIN_FIELDS = frozenset({"grant_type", "scope", "client_id", "client_secret"})
# The token endpoint's answer headers, in its order; the fast lane adds Content-Length.
_ISSUED_HEADERS = (
    *default_json_headers,  # Content-Type, Cache-Control: no-store, Pragma: no-cache
    *SECURITY_HEADER_PAIRS,
)


def plain_client_credentials(
    app: Flask, environ: dict[str, Any], body: bytes
) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """The answer to a plain, granted ``client_credentials`` request, from memory alone.

    A fast-lane shortcut: answered only when everything about the request is ordinary and
    this worker already holds what it takes — the client record (cached at most
    ``CHATFRAME_CLIENT_CACHE_TTL`` seconds, as for every grant) and the signing key. That is:
    ``grant_type=client_credentials&scope=manage`` as the only form fields besides credentials,
    each once, needing no decoding; the secret by Basic or in the form (one way); no query
    string, no ``Origin``, no NUL in a header; an enabled client, allowed from this IP, whose
    current secret (or previous one, within its grace) matches; a transport the endpoint
    accepts. Anything else, granted or not, returns None and the endpoint decides by all its
    rules. The answer is the endpoint's own (``tests/functional/test_fast_lane.py``).
    """
    if environ.get("QUERY_STRING") or "HTTP_ORIGIN" in environ:
        return None
    if environ.get("CONTENT_TYPE") != "application/x-www-form-urlencoded":
        return None
    form = _plain_form(body)
    if form is None or form.get("grant_type") != "client_credentials":
        return None
    if form.get("scope") != "manage":
        return None
    if header_has_nul(environ):
        return None
    credentials = _plain_credentials(environ.get("HTTP_AUTHORIZATION"), form)
    if credentials is None:
        return None
    client_id, secret = credentials
    svc: Services = app.extensions["chatframe"]
    client = svc.clients.fresh(client_id)
    key = svc.keys.loaded_signing_key()
    if client is None or key is None or not client.enabled:
        return None
    if not client.allows_ip(environ.get("REMOTE_ADDR")):
        return None
    if not is_secure_transport(svc.settings.token_endpoint):
        return None
    if not secret_matches(svc.hasher, client, secret):
        return None
    answer = management_token_response(TokenIssuer(svc.settings, svc.keys), client.id, key=key)
    metrics.count_issued("client_credentials")
    return 200, list(_ISSUED_HEADERS), app.json.dumps(answer).encode()  # the endpoint's JSON


def _plain_form(body: bytes) -> dict[str, str] | None:
    """The form's fields if each is one of the plain request's, sent once, with a value that
    needs no decoding; None otherwise."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        return None
    form: dict[str, str] = {}
    for part in text.split("&"):
        name, sep, value = part.partition("=")
        if not sep or name not in _PLAIN_FIELDS or name in form:
            return None
        if not _UNRESERVED.fullmatch(value):
            return None
        form[name] = value
    return form


def _plain_credentials(header: str | None, form: dict[str, str]) -> tuple[str, str] | None:
    """(client_id, secret) sent one way only: Basic, or both in the form."""
    in_form = form.get("client_id"), form.get("client_secret")
    if header is None:
        return (in_form[0], in_form[1]) if in_form[0] and in_form[1] else None
    if in_form != (None, None) or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not _UNRESERVED.fullmatch(client_id) or not _UNRESERVED.fullmatch(secret):
        return None
    return client_id, secret


def add_lanes(lane: FastLane) -> None:
    lane.add(
        "POST",
        "/oauth/token",
        "/oauth/token",
        token_answer,
        shortcut=functools.partial(plain_client_credentials, lane.app),
    )


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
