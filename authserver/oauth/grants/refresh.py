"""Refresh with rotation: every use returns a new refresh token; a replayed one ends the session.

Concurrency rule: the first request to claim a refresh token (a conditional UPDATE) wins;
every other presentation of that token — concurrent or later — is reuse and revokes the
session. So two simultaneous refreshes never yield two live sessions: at most one successor,
and usually none, because the loser's reuse revokes the session the winner continues.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.hooks import hooked

from ... import events
from ...access import bot_denials
from ...client_cache import ClientRecord
from ...events import EventType
from ...extensions import db
from ...models import RefreshToken
from ...sessions import claim_refresh_token, find_refresh_token, new_refresh_token, revoke_session
from ..errors import InvalidGrantError
from .base import ChatframeGrant


class RotatingRefreshTokenGrant(ChatframeGrant):
    GRANT_TYPE = "refresh_token"
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    @hooked
    def validate_token_request(self) -> None:
        client: ClientRecord = self.authenticate_token_endpoint_client()
        self.request.client = client
        row = find_refresh_token(self.request.require("refresh_token"), self.svc.hasher)
        if row is None or row.session.client_id != client.id:
            raise InvalidGrantError("The refresh token is invalid.")
        if row.rotated_at is not None:
            self._reuse(row)
        if not row.session.is_active():
            raise InvalidGrantError("The session has ended; start a new one with a new code.")
        self.request.refresh_token = row

    def dpop_binding(self) -> tuple[bool, str | None]:
        jkt = self.request.refresh_token.session.dpop_jkt
        return bool(jkt), jkt

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        row: RefreshToken = self.request.refresh_token
        if not claim_refresh_token(row):
            db.session.rollback()
            self._reuse(row)
        session = row.session
        denied = bot_denials(
            session.customer_id, session.partner_user_pk, session.bots, session.amr
        )
        bots = [b for b in session.bots if b not in denied]
        if not bots:
            db.session.commit()
            raise InvalidGrantError(
                "None of this session's bots is available to the user any more."
            )
        refresh_token = new_refresh_token(session, self.svc.hasher)
        events.record(
            EventType.REFRESH_ROTATED,
            customer_id=session.customer_id,
            client_id=session.client_id,
            partner_user=session.partner_user_pk,
            ip=self.request.client_ip,
            session_id=session.id,
        )
        return self.respond(self.tokens(session, bots, refresh_token))

    def _reuse(self, row: RefreshToken) -> None:
        session = row.session
        events.record(
            EventType.REFRESH_REUSE,
            customer_id=session.customer_id,
            client_id=session.client_id,
            partner_user=session.partner_user_pk,
            ip=self.request.client_ip,
            session_id=session.id,
            commit=False,
        )
        revoke_session(session.id, "refresh_reuse", ip=self.request.client_ip)
        raise InvalidGrantError(
            "This refresh token was already used; the session has been revoked."
        )
