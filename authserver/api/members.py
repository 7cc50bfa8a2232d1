"""Members of a bot: who among the customer's partner users may chat with it."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import select

from .. import registry
from ..access import find_partner_user
from ..extensions import db
from ..models import Bot, Membership, PartnerUser
from ..paging import paginate
from . import bp, listing, not_found, page_params
from .bots import owned_bot


def present_member(membership: Membership) -> dict[str, Any]:
    return {
        "id": membership.partner_user.id,
        "partner_user_id": membership.partner_user.partner_user_id,
        "bot_id": membership.bot_id,
        "created_at": membership.created_at.isoformat().replace("+00:00", "Z"),
    }


def _membership(bot: Bot, partner_user_id: str) -> Membership | None:
    user = find_partner_user(bot.customer_id, partner_user_id)
    if user is None:
        return None
    return db.session.execute(
        select(Membership).where(Membership.bot_id == bot.id, Membership.partner_user_pk == user.id)
    ).scalar_one_or_none()


@bp.get("/bots/<bot_id>/members")
def list_members(bot_id: str) -> Response:
    bot = owned_bot(bot_id)
    cursor, limit = page_params()
    page = paginate(
        registry.memberships(bot),
        [PartnerUser.partner_user_id],
        cursor=cursor,
        limit=limit,
        key=lambda m: [m.partner_user.partner_user_id],
    )
    return listing(page, present_member)


@bp.put("/bots/<bot_id>/members/<path:partner_user_id>")
def add_member(bot_id: str, partner_user_id: str) -> tuple[Response, int]:
    bot = owned_bot(bot_id)
    created = registry.add_member(bot, partner_user_id, ip=request.remote_addr)
    membership = _membership(bot, partner_user_id)
    assert membership is not None  # just added, or already there
    return jsonify(present_member(membership)), 201 if created else 200


@bp.delete("/bots/<bot_id>/members/<path:partner_user_id>")
def remove_member(bot_id: str, partner_user_id: str) -> tuple[str, int]:
    bot = owned_bot(bot_id)
    if not registry.remove_member(bot, partner_user_id, ip=request.remote_addr):
        raise not_found(f"member {partner_user_id} of bot {bot.id}")
    return "", 204
