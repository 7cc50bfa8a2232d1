"""The chat API's token check: DPoP-bound access token, live session, current bot access.

Run on every chat request, so a revoked session or a removed member is refused on the very
next request, whatever the access token still says. The token's signature is verified once
per token (then cached until it expires); the session and bot access are read every time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Row
from werkzeug.datastructures import EnvironHeaders, Headers

from authserver.access import denial_reason, session_with_bot, usable_bot
from authserver.models import session_is_live
from authserver.oauth.dpop import ALGORITHMS, DPoPProofError, DPoPVerifier
from authserver.oauth.tokens import TokenError, TokenIssuer
from authserver.services import services

# The WWW-Authenticate header carries fixed text only (RFC 6750 §3, RFC 9449 §7.1): the
# description in the JSON body may quote the request, and a header must never echo request
# data (a non-Latin-1 path there makes the HTTP server refuse the whole response).
CHALLENGE_DESCRIPTIONS = {
    "invalid_token": "The access token is missing, invalid or expired.",
    "invalid_dpop_proof": "The DPoP proof is missing or invalid.",
}


class ChatRequest(Protocol):
    """What the token check reads of a request: a werkzeug request, or an
    :class:`EnvironRequest` on the fast lane's shortcut."""

    @property
    def headers(self) -> Headers: ...

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


class EnvironRequest:
    """A :class:`ChatRequest` read straight from a WSGI environ, for a path the caller has
    matched as ASCII (so ``PATH_INFO`` is what werkzeug's ``request.path`` would be)."""

    __slots__ = ("headers", "method", "path")

    def __init__(self, environ: dict[str, Any]) -> None:
        self.headers = EnvironHeaders(environ)
        self.method: str = environ["REQUEST_METHOD"]
        self.path: str = environ["PATH_INFO"]


class ChatAuthError(Exception):
    """A refused chat request: status, OAuth error code and a sentence saying why."""

    def __init__(self, status: int, error: str, description: str, scheme: str = "DPoP") -> None:
        super().__init__(description)
        self.status, self.error, self.description, self.scheme = status, error, description, scheme

    def headers(self) -> dict[str, str]:
        if self.status != 401:
            return {}
        value = (
            f'{self.scheme} error="{self.error}", '
            f'error_description="{CHALLENGE_DESCRIPTIONS[self.error]}"'
        )
        if self.scheme == "DPoP":
            value += f', algs="{" ".join(ALGORITHMS)}"'
        return {"WWW-Authenticate": value}


@dataclass
class ChatCaller:
    """Who is calling: the verified token's claims and its live session.

    ``route_bot`` is the bot named in the request's path, read with the session in one query.
    """

    claims: dict[str, Any]
    session_id: str
    customer_id: str
    partner_user_pk: str
    amr: list[str]
    route_bot: tuple[str, Row[Any]] | None = None

    def require_bot(self, bot_id: str) -> Row[Any]:
        """The bot (name, greeting, appearance, ...), or 403 unless the token names it
        and the user may still use it right now."""
        if bot_id not in self.claims.get("bots", []):
            raise ChatAuthError(
                403, "insufficient_scope", "This access token does not grant that bot."
            )
        if self.route_bot is not None and self.route_bot[0] == bot_id:
            bot: Row[Any] | None = self.route_bot[1]
            denied = denial_reason(bot if bot and bot.bot_found else None, set(self.amr))
        else:
            bot, denied = usable_bot(self.customer_id, self.partner_user_pk, bot_id, self.amr)
        if denied or bot is None:
            raise ChatAuthError(
                403, "insufficient_scope", "You are no longer allowed to use this bot."
            )
        return bot


def authenticate(request: ChatRequest, bot_id: str | None = None) -> ChatCaller:
    """Check ``Authorization`` (+ ``DPoP``) of a chat request; raise ChatAuthError if refused.

    With ``bot_id`` (a bot route), that bot's access is read in the same query as the session.
    """
    svc = services()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme not in ("dpop", "bearer") or not token.strip():
        raise ChatAuthError(
            401, "invalid_token", "Send 'Authorization: DPoP <access token>' and a DPoP proof."
        )
    token = token.strip()
    issuer = TokenIssuer(svc.settings, svc.keys)
    try:
        claims = issuer.verify_access_token(token, audience=issuer.chat_audience)
    except TokenError as exc:
        raise ChatAuthError(401, "invalid_token", f"The access token is invalid: {exc}.") from exc

    jkt = (claims.get("cnf") or {}).get("jkt")
    if jkt:
        if scheme != "dpop":
            raise ChatAuthError(
                401, "invalid_token", "This token is DPoP-bound: use the DPoP scheme."
            )
        _check_proof(request, token, jkt)
    elif scheme != "bearer":
        raise ChatAuthError(
            401, "invalid_token", "This token is not DPoP-bound: use Bearer.", "Bearer"
        )

    sid = str(claims.get("sid", ""))
    session = session_with_bot(sid, bot_id)
    if session is None or not session_is_live(session.revoked_at, session.expires_at):
        raise ChatAuthError(401, "invalid_token", "The session has ended; start a new one.")
    return ChatCaller(
        claims=claims,
        session_id=sid,
        customer_id=session.customer_id,
        partner_user_pk=session.partner_user_pk,
        amr=list(session.amr or []),
        route_bot=(bot_id, session) if bot_id else None,
    )


def _check_proof(request: ChatRequest, token: str, jkt: str) -> None:
    proofs = request.headers.getlist("DPoP")
    if len(proofs) != 1:
        raise ChatAuthError(401, "invalid_dpop_proof", "Send exactly one DPoP proof header.")
    svc = services()
    verifier = DPoPVerifier(svc.store, svc.settings.dpop_leeway)
    try:
        proof = verifier.verify(
            proofs[0],
            method=request.method,
            url=svc.settings.issuer + request.path,
            access_token=token,
        )
    except DPoPProofError as exc:
        raise ChatAuthError(401, "invalid_dpop_proof", str(exc)) from exc
    if not hmac.compare_digest(proof.jkt, jkt):
        raise ChatAuthError(
            401, "invalid_dpop_proof", "The DPoP proof's key is not the key this token is bound to."
        )
