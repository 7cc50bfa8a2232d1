"""Revocation (RFC 7009) and introspection (RFC 7662), isolated per customer."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from ..client_cache import ClientRecord
from ..extensions import db
from ..models import Session
from ..services import services
from ..sessions import find_refresh_token, revoke_session
from .tokens import TokenError, TokenIssuer


@dataclass
class TokenRef:
    """A token found by value: a refresh token or one of our access-token JWTs."""

    kind: str  # "refresh_token" | "access_token"
    customer_id: str
    client_id: str
    session: Session | None
    claims: dict[str, Any] = field(default_factory=dict)

    def is_expired(self) -> bool:
        if self.kind == "access_token":
            return bool(self.claims["exp"] <= time.time())
        return self.session is None or not self.session.is_active()

    def is_revoked(self) -> bool:
        if self.kind == "refresh_token":
            return False  # rotated/revoked states are handled by the session check
        return self.session is not None and self.session.revoked_at is not None


def find_token(token: str, hint: str | None) -> TokenRef | None:
    """Look a token up as a refresh token and/or an access token (in the hinted order)."""
    order = ["access_token", "refresh_token"]
    if hint == "refresh_token" or (hint is None and token.startswith("cfr_")):
        order.reverse()
    for kind in order:
        found = _find_refresh(token) if kind == "refresh_token" else _find_access(token)
        if found:
            return found
    return None


def _find_refresh(token: str) -> TokenRef | None:
    if not token.startswith("cfr_"):
        return None
    row = find_refresh_token(token, services().hasher)
    if row is None or row.rotated_at is not None:
        return None
    session = row.session
    return TokenRef("refresh_token", session.customer_id, session.client_id, session)


def _find_access(token: str) -> TokenRef | None:
    try:
        claims = TokenIssuer(services().settings, services().keys).verify_access_token(
            token, check_exp=False
        )
    except TokenError:
        return None
    client = services().clients.get(str(claims.get("client_id", "")))
    if client is None:
        return None
    session = db.session.get(Session, claims["sid"]) if "sid" in claims else None
    return TokenRef("access_token", client.customer_id, client.id, session, claims)


class ChatframeRevocationEndpoint(RevocationEndpoint):
    """The iframe revokes its own session (public ``client_id``); a confidential client may
    revoke tokens of its own customer. Anything else is answered 200 and left alone."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRef | None:
        return find_token(token_string, token_type_hint)

    def authenticate_token(self, request: Any, client: ClientRecord) -> TokenRef | None:
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if token is None:
            return None
        if request.auth_method == "none":
            return token if token.client_id == client.id else None
        return token if token.customer_id == client.customer_id else None

    def revoke_token(self, token: TokenRef, request: Any) -> None:
        if token.session is not None:
            revoke_session(token.session.id, "revoked_by_client", ip=request.client_ip)


class ChatframeIntrospectionEndpoint(IntrospectionEndpoint):
    """Confidential clients introspect tokens of their own customer only."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRef | None:
        return find_token(token_string, token_type_hint)

    def check_permission(self, token: TokenRef, client: ClientRecord, request: Any) -> bool:
        return token.customer_id == client.customer_id

    def introspect_token(self, token: TokenRef) -> dict[str, Any]:
        if token.kind == "access_token":
            claims = token.claims
            body: dict[str, Any] = {
                key: claims[key]
                for key in ("iss", "aud", "sub", "client_id", "scope", "exp", "iat", "sid", "jti")
                if key in claims
            }
            if "bots" in claims:
                body["bots"] = claims["bots"]
            if "cnf" in claims:
                body["cnf"] = claims["cnf"]
            body["token_type"] = "DPoP" if "cnf" in claims else "Bearer"
        else:
            session = token.session
            assert session is not None
            body = {
                "client_id": session.client_id,
                "sub": session.partner_user_pk,
                "sid": session.id,
                "scope": session.scope,
                "exp": int(session.expires_at.timestamp()),
                "iat": int(session.created_at.replace(tzinfo=dt.UTC).timestamp()),
                "token_type": "refresh_token",
            }
        body["active"] = True
        return body
