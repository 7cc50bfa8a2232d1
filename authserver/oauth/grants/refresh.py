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
from ...client_cache import ClientRecord
from ...events import EventType
from ...extensions import db
from ...models import Session
from ...sessions import (
    RefreshRead,
    claim_refresh_token,
    find_refresh_token,
    refresh_token_written_with,
    revoke_session,
    rotate_refresh_token,
)
from ..errors import InvalidGrantError
from .base import ChatframeGrant

NO_BOTS = "None of this session's bots is available to the user any more."


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
        """The claim, the successor and the event in one round trip; the bots' access was
        read with the token."""
        row: RefreshRead = self.request.refresh_token
        session = row.session
        denied = row.denials
        bots = [b for b in session.bots if b not in denied]
        if not bots:
            if not claim_refresh_token(row):  # a spent token is reuse, bots or not
                self._reuse(row)
            db.session.commit()  # the token stays spent (when the claim joined a transaction)
            raise InvalidGrantError(NO_BOTS)
        refresh_token, successor = refresh_token_written_with(session.id, self.svc.hasher)
        event = events.written_with(EventType.REFRESH_ROTATED, **self._event(session))
        if not rotate_refresh_token(row.id, successor, event):
            self._reuse(row)
        return self.respond(self.tokens(session, bots, refresh_token))

    def _event(self, session: Session) -> dict[str, Any]:
        return {
            "customer_id": session.customer_id,
            "client_id": session.client_id,
            "partner_user": session.partner_user_pk,
            "ip": self.request.client_ip,
            "session_id": session.id,
        }

    def _reuse(self, row: RefreshRead) -> None:
        session = row.session
        events.record(EventType.REFRESH_REUSE, **self._event(session), commit=False)
        revoke_session(session.id, "refresh_reuse", ip=self.request.client_ip)
        raise InvalidGrantError(
            "This refresh token was already used; the session has been revoked."
        )
