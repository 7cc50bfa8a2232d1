"""A partner user's sessions: list the live ones, or revoke them all at once."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from .. import sessions
from ..access import find_partner_user
from ..models import PartnerUser, Session
from ..paging import paginate
from . import bp, customer_id, listing, not_found, page_params


def present_session(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "partner_user_id": session.partner_user.partner_user_id,
        "client_id": session.client_id,
        "origin": session.origin,
        "bots": list(session.bots),
        "created_at": session.created_at.isoformat().replace("+00:00", "Z"),
        "expires_at": session.expires_at.isoformat().replace("+00:00", "Z"),
    }


def _partner_user(partner_user_id: str) -> PartnerUser:
    user = find_partner_user(customer_id(), partner_user_id)
    if user is None:
        raise not_found(f"partner user {partner_user_id}")
    return user


@bp.get("/users/<path:partner_user_id>/sessions")
def list_sessions(partner_user_id: str) -> Response:
    user = _partner_user(partner_user_id)
    cursor, limit = page_params()
    query = sessions.active_sessions(customer_id(), user.id)
    page = paginate(query, [Session.created_at, Session.id], cursor=cursor, limit=limit)
    return listing(page, present_session)


@bp.delete("/users/<path:partner_user_id>/sessions")
def revoke_sessions(partner_user_id: str) -> tuple[str, int]:
    user = _partner_user(partner_user_id)
    sessions.revoke_user_sessions(user, "revoked_by_customer", ip=request.remote_addr)
    return "", 204
