"""Bots: list, create, read, change and delete a customer's bots with their FAQ."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import registry
from ..models import Bot
from ..paging import paginate
from . import ApiError, bp, customer_id, json_body, listing, not_found, page_params

BOT_FIELDS = {
    "name",
    "greeting",
    "fallback",
    "access",
    "require_mfa",
    "enabled",
    "appearance",
    "faq",
}


def present_bot(bot: Bot) -> dict[str, Any]:
    return {
        "id": bot.id,
        "name": bot.name,
        "greeting": bot.greeting,
        "fallback": bot.fallback,
        "access": bot.access,
        "require_mfa": bot.require_mfa,
        "enabled": bot.enabled,
        "appearance": dict(bot.appearance or {}),
        "faq": [{"question": e.question, "answer": e.answer} for e in bot.faq],
        "created_at": bot.created_at.isoformat().replace("+00:00", "Z"),
    }


def owned_bot(bot_id: str) -> Bot:
    """The caller's bot, or 404 — also for a bot of another customer."""
    try:
        return registry.get_bot(bot_id, customer_id=customer_id())
    except registry.RegistryError:
        raise not_found(f"bot {bot_id}") from None


@bp.get("/bots")
def list_bots() -> Response:
    cursor, limit = page_params()
    query = select(Bot).where(Bot.customer_id == customer_id()).options(selectinload(Bot.faq))
    page = paginate(query, [Bot.created_at, Bot.id], cursor=cursor, limit=limit)
    return listing(page, present_bot)


@bp.post("/bots")
def create_bot() -> tuple[Response, int]:
    body = json_body(BOT_FIELDS)
    name = body.pop("name", None)
    if not isinstance(name, str):
        raise ApiError(400, "invalid_request", "name is required: the bot's display name.")
    customer = registry.get_customer(customer_id())
    bot = registry.create_bot(customer, name, body.pop("access", None) or "members", **body)
    return jsonify(present_bot(bot)), 201


@bp.get("/bots/<bot_id>")
def get_bot(bot_id: str) -> Response:
    return jsonify(present_bot(owned_bot(bot_id)))


@bp.patch("/bots/<bot_id>")
def update_bot(bot_id: str) -> Response:
    bot = owned_bot(bot_id)
    return jsonify(present_bot(registry.update_bot(bot, **json_body(BOT_FIELDS))))


@bp.delete("/bots/<bot_id>")
def delete_bot(bot_id: str) -> tuple[str, int]:
    registry.delete_bot(owned_bot(bot_id))
    return "", 204
