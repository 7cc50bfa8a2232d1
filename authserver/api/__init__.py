"""The management API (``/api/v1``): a customer's backend manages its bots, members and sessions.

Every request carries a ``scope=manage`` access token from the client_credentials grant; the
token's client decides the customer, and anything of another customer reads as missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request

from ..extensions import db
from ..oauth.tokens import TokenError, TokenIssuer
from ..paging import MAX_LIMIT, CursorError, Page
from ..registry import RegistryError
from ..services import services

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC_ENDPOINTS = {"api.openapi"}
DEFAULT_LIMIT = 50


class ApiError(Exception):
    """An error answer: status, OAuth-style ``error`` code and a sentence saying what to fix."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def not_found(what: str) -> ApiError:
    """The answer for anything missing *or* of another customer: the two read the same."""
    return ApiError(404, "not_found", f"No {what}.")


def init_app(app: Flask) -> None:
    """Register the management API's routes on ``app``."""
    from . import bots, events, members, openapi, users  # noqa: F401 - their routes join bp

    app.register_blueprint(bp)


def customer_id() -> str:
    """The customer whose token this request carries."""
    return str(g.api_client.customer_id)


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _invalid_token(
            "Send a management access token as 'Authorization: Bearer <token>'; get one from "
            "POST /oauth/token with grant_type=client_credentials and scope=manage."
        )
    issuer = TokenIssuer(services().settings, services().keys)
    try:
        claims = issuer.verify_access_token(token.strip(), audience=issuer.api_audience)
    except TokenError as exc:
        raise _invalid_token(f"The access token is not valid here: {exc}.") from exc
    if claims.get("scope") != "manage":
        raise _invalid_token("The access token is not a scope=manage token.")
    client = services().clients.get(str(claims.get("client_id")))
    if client is None or not client.enabled:
        raise _invalid_token("The client this token was issued to is disabled or gone.")
    if not client.allows_ip(request.remote_addr):
        raise _invalid_token(f"Your IP address is not in the allowlist of client {client.id}.")
    g.api_client = client


def _invalid_token(description: str) -> ApiError:
    return ApiError(401, "invalid_token", description)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[Response, int]:
    response = jsonify(error=exc.error, error_description=exc.description)
    response.headers["Cache-Control"] = "no-store"
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response, exc.status


@bp.errorhandler(RegistryError)
@bp.errorhandler(CursorError)
def _bad_value(exc: ValueError) -> tuple[Response, int]:
    db.session.rollback()
    return _api_error(ApiError(400, "invalid_request", str(exc)))


def json_body(allowed: set[str]) -> dict[str, Any]:
    """The request's JSON object, refusing fields nobody can set."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(
            400,
            "invalid_request",
            "Send a JSON object as the body, with 'Content-Type: application/json'.",
        )
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(
            400,
            "invalid_request",
            f"Unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}.",
        )
    return body


def page_params() -> tuple[str | None, int]:
    """The ``cursor`` and ``limit`` query parameters of a listing."""
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise ApiError(
            400, "invalid_request", f"limit must be a whole number from 1 to {MAX_LIMIT}."
        ) from None
    return request.args.get("cursor") or None, limit


def listing(page: Page[Any], present: Callable[[Any], dict[str, Any]]) -> Response:
    """A list answer: ``{"data": [...], "next": cursor or null}``."""
    return jsonify(data=[present(item) for item in page.items], next=page.next)
