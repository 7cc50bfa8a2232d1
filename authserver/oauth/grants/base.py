"""What every Chatframe grant shares: services, the typed request, the JSON response."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin

from ...models import Session
from ...services import Services, services
from ..requests import ChatframeRequest
from ..tokens import TokenIssuer


class ChatframeGrant(BaseGrant, TokenEndpointMixin):
    request: ChatframeRequest

    # A grant lives for one request (Authlib makes one per request), inside one app context.
    @cached_property
    def svc(self) -> Services:
        return services()

    @cached_property
    def issuer(self) -> TokenIssuer:
        return TokenIssuer(self.svc.settings, self.svc.keys)

    @staticmethod
    def respond(body: dict[str, Any]) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        return 200, body, list(default_json_headers)

    def tokens(self, session: Session, bots: list[str], refresh_token: str) -> dict[str, Any]:
        """The token response of a new or refreshed session (shared with the refresh grant)."""
        auth_time = int(session.created_at.timestamp())
        access_token, expires_in = self.issuer.access_token(
            sub=session.partner_user_pk,
            client_id=session.client_id,
            sid=session.id,
            bots=bots,
            scope=_scope_for(session.scope, bots),
            auth_time=auth_time,
            session_expires_at=int(session.expires_at.timestamp()),
            jkt=session.dpop_jkt,
        )
        id_token = self.issuer.id_token(
            sub=session.partner_user_pk,
            client_id=session.client_id,
            sid=session.id,
            nonce=session.nonce,
            amr=list(session.amr or []),
            auth_time=auth_time,
        )
        return {
            "access_token": access_token,
            "token_type": "DPoP" if session.dpop_jkt else "Bearer",
            "expires_in": expires_in,
            "refresh_token": refresh_token,
            "id_token": id_token,
            "scope": _scope_for(session.scope, bots),
        }


def _scope_for(scope: str, bots: list[str]) -> str:
    """The session's scope narrowed to the bots still allowed."""
    kept = [s for s in scope.split() if not s.startswith("bot:") or s[4:] in bots]
    return " ".join(kept)
