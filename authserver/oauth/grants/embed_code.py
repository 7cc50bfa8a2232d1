"""Code redemption: the iframe trades a one-time embed code (PKCE + DPoP) for a session's tokens.

The code is consumed atomically before anything else is checked, so each code gets exactly one
attempt. A second presentation is reuse: it fails and revokes the session the first one started.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from authlib.oauth2.rfc6749.hooks import hooked

from ... import events, fastsql
from ...access import user_access
from ...client_cache import ClientRecord
from ...events import EventType
from ...extensions import db
from ...models import Session, utcnow
from ...security import new_id
from ...sessions import (
    INSERT_SESSION,
    refresh_token_written_with,
    revoke_session,
    session_row,
)
from ..dpop import DPoPBinding
from ..errors import InvalidGrantError, InvalidRequestError
from .base import ChatframeGrant


class EmbedCodeGrant(ChatframeGrant):
    GRANT_TYPE = "authorization_code"
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    dpop_extension: DPoPBinding  # set by the extension when the server registers the grant

    @hooked
    def validate_token_request(self) -> None:
        client: ClientRecord = self.authenticate_token_endpoint_client()
        self.request.client = client
        code = self.request.require("code")
        origin = self.request.require("origin")
        code_hash = self.svc.hasher.hash(code)
        if not self.request.param("code_verifier") and self._live_pkce_code(code_hash):
            # Refused before the code is touched, like any other malformed request. (A native
            # fragment-mode code has no verifier; a spent code goes on to reuse detection.)
            raise InvalidRequestError("The 'code_verifier' parameter is required.")

        self.session_id = new_id("ses")
        # The proof is checked now and its jti recorded in the same step as the code is
        # spent (one round trip, not two); what the check found is raised after validation,
        # where the DPoP extension always raises it.
        proof = self.dpop_extension.verify_early(self)
        consumed = self.svc.store.consume(
            "code",
            code_hash,
            tombstone={"sid": self.session_id},
            tombstone_ttl=self.svc.settings.session_ttl,
            remember=proof.replay_key if proof else None,
        )
        self.request.dpop_jti_new = consumed.remembered
        if consumed.value is None:
            if consumed.tombstone:
                self._reuse(client, code_hash, consumed.tombstone["sid"])
            raise InvalidGrantError("The code is invalid or has expired.")
        data = consumed.value
        if data["client_id"] != client.id:
            raise InvalidGrantError("The code was issued to another client.")
        if data["origin"] != origin:
            raise InvalidGrantError("The origin does not match the origin the code was issued for.")
        if data.get("fragment") and not client.allows_native_fragment:
            raise InvalidGrantError("The native fragment fallback is not enabled for this client.")
        self.request.authorization_code = data

    def dpop_binding(self) -> tuple[bool, str | None]:
        code = self.request.authorization_code
        if code.get("fragment"):
            # Fragment mode: the key of this first (and only) redemption becomes the session's.
            return True, None
        jkt = code.get("dpop_jkt")
        return bool(jkt), jkt

    def _live_pkce_code(self, code_hash: str) -> bool:
        """Whether the code is unspent and PKCE-bound (not for the native page's fragment)."""
        data = self.svc.store.get("code", code_hash)
        return data is not None and not data.get("fragment")

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        data = self.request.authorization_code
        client: ClientRecord = self.request.client
        user_id, denied = user_access(
            client.customer_id, data["bots"], data["amr"], partner_user_pk=data["partner_user"]
        )
        if user_id is None:
            raise InvalidGrantError("The user this code was issued for no longer exists.")
        bots = [b for b in data["bots"] if b not in denied]
        if not bots:
            raise InvalidGrantError("None of this code's bots is available to the user any more.")
        dpop = self.request.dpop
        jkt = dpop.jkt if dpop else None
        now = utcnow()
        session = Session(
            id=self.session_id,
            customer_id=client.customer_id,
            client_id=client.id,
            partner_user_pk=user_id,
            bots=bots,
            scope=data["scope"],
            origin=data["origin"],
            dpop_jkt=jkt,
            amr=data["amr"],
            nonce=data["nonce"],
            created_at=now,
            expires_at=now + dt.timedelta(seconds=self.svc.settings.session_ttl),
        )
        event: dict[str, Any] = {
            "customer_id": client.customer_id,
            "client_id": client.id,
            "partner_user": user_id,
            "ip": self.request.client_ip,
            "session_id": session.id,
            "dpop_bound": bool(jkt),
        }
        # The session, its refresh token and the event in one transaction (one round trip).
        refresh_token, refresh_step = refresh_token_written_with(session.id, self.svc.hasher)
        fastsql.transaction(
            [
                (INSERT_SESSION, session_row(session)),
                refresh_step,
                events.written_with(EventType.CODE_REDEEMED, **event),
            ]
        )
        if self.svc.store.get("code_reuse", session.id):
            # A reuse raced this redemption: it could not revoke a session that did not exist
            # yet, so it left a mark for us. Revoke what we just created.
            revoke_session(session.id, "code_reuse", ip=self.request.client_ip)
        return self.respond(self.tokens(session, bots, refresh_token))

    def _reuse(self, client: ClientRecord, code_hash: str, session_id: str) -> None:
        self.svc.store.put("code_reuse", session_id, {"at": utcnow().isoformat()}, ttl=300)
        session = db.session.get(Session, session_id)
        events.record(
            EventType.CODE_REUSE,
            customer_id=client.customer_id,
            client_id=client.id,
            partner_user=session.partner_user_pk if session else None,
            ip=self.request.client_ip,
            session_id=session_id,
        )
        revoke_session(session_id, "code_reuse", ip=self.request.client_ip)
