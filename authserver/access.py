"""Who may talk to which bot: the one place that decides bot access for a partner user."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .models import Bot, Membership, PartnerUser


def bot_denials(
    customer_id: str,
    partner_user: PartnerUser | None,
    bot_ids: Iterable[str],
    amr: Iterable[str],
) -> dict[str, str]:
    """Map each requested bot that this user may *not* use to the reason why.

    A bot of another customer reads exactly like a bot that does not exist.
    """
    wanted = list(dict.fromkeys(bot_ids))
    bots = {
        bot.id: bot
        for bot in db.session.execute(
            select(Bot).where(Bot.id.in_(wanted), Bot.customer_id == customer_id)
        ).scalars()
    }
    member_of: set[str] = set()
    if partner_user is not None:
        member_of = set(
            db.session.execute(
                select(Membership.bot_id).where(
                    Membership.partner_user_pk == partner_user.id, Membership.bot_id.in_(wanted)
                )
            ).scalars()
        )
    methods = set(amr)
    denials: dict[str, str] = {}
    for bot_id in wanted:
        bot = bots.get(bot_id)
        if bot is None:
            denials[bot_id] = "unknown_bot"
        elif not bot.enabled:
            denials[bot_id] = "bot_disabled"
        elif bot.access != "all_users" and bot_id not in member_of:
            denials[bot_id] = "not_a_member"
        elif bot.require_mfa and "mfa" not in methods:
            denials[bot_id] = "mfa_required"
    return denials


def find_partner_user(customer_id: str, partner_user_id: str) -> PartnerUser | None:
    return db.session.execute(
        select(PartnerUser).where(
            PartnerUser.customer_id == customer_id,
            PartnerUser.partner_user_id == partner_user_id,
        )
    ).scalar_one_or_none()


def get_or_create_partner_user(customer_id: str, partner_user_id: str) -> PartnerUser:
    """The customer's user, created on first sight with a fresh pairwise ``sub``.

    Idempotent under concurrency: when two requests create the same new user at once, the
    unique (customer, partner user id) constraint lets one insert win; the other rolls back
    only its savepoint and reads the winner's row.
    """
    user = find_partner_user(customer_id, partner_user_id)
    if user is not None:
        return user
    try:
        with db.session.begin_nested():
            user = PartnerUser(customer_id=customer_id, partner_user_id=partner_user_id)
            db.session.add(user)
    except IntegrityError:
        user = find_partner_user(customer_id, partner_user_id)
        if user is None:
            raise
    return user
