"""Who may talk to which bot: the one place that decides bot access for a partner user."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, select
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .models import Bot, Membership, PartnerUser, Session


def bot_denials(
    customer_id: str,
    partner_user_pk: str | None,
    bot_ids: Iterable[str],
    amr: Iterable[str],
) -> dict[str, str]:
    """Map each requested bot that this user may *not* use to the reason why.

    A bot of another customer reads exactly like a bot that does not exist.
    """
    return user_access(customer_id, bot_ids, amr, partner_user_pk=partner_user_pk)[1]


def user_access(
    customer_id: str,
    bot_ids: Iterable[str],
    amr: Iterable[str],
    *,
    partner_user_pk: str | None = None,
    partner_user_id: str | None = None,
) -> tuple[str | None, dict[str, str]]:
    """The user's pairwise id (None: not seen yet) and the bots they may not use, with why.

    One query: the customer's bots joined with the user (by pairwise id, or by the customer's
    own ``partner_user_id``) and the user's memberships. Only when none of the bots exists is
    the user looked up on its own.
    """
    wanted = list(dict.fromkeys(bot_ids))
    if partner_user_pk is not None:
        user = PartnerUser.id == partner_user_pk
    else:
        user = and_(
            PartnerUser.customer_id == customer_id,
            PartnerUser.partner_user_id == (partner_user_id or ""),
        )
    rows = {row.id: row for row in db.session.execute(_access_query(customer_id, user, wanted))}
    if rows:
        user_pk = next(iter(rows.values())).user_pk
    elif partner_user_pk is not None:
        user_pk = db.session.execute(
            select(PartnerUser.id).where(PartnerUser.id == partner_user_pk)
        ).scalar_one_or_none()
    else:
        found = find_partner_user(customer_id, partner_user_id or "")
        user_pk = found.id if found else None
    methods = set(amr)
    denials: dict[str, str] = {}
    for bot_id in wanted:
        reason = denial_reason(rows.get(bot_id), methods)
        if reason:
            denials[bot_id] = reason
    return user_pk, denials


def usable_bot(
    customer_id: str, partner_user_pk: str, bot_id: str, amr: Iterable[str]
) -> tuple[Row[Any] | None, str | None]:
    """One bot with its display fields, and why this user may not use it (None: they may)."""
    row = db.session.execute(
        _access_query(customer_id, PartnerUser.id == partner_user_pk, [bot_id], *_DISPLAY)
    ).first()
    return row, denial_reason(row, set(amr))


def session_with_bot(session_id: str, bot_id: str | None) -> Any:
    """A session's state and, in the same query, one bot's access and display fields.

    The chat API's token check for a bot route: one round trip reads whether the session is
    live and whether its user may use that bot right now. ``bot_found`` is None when the bot
    does not exist or is another customer's.
    """
    bot_join = and_(Bot.id == (bot_id or ""), Bot.customer_id == Session.customer_id)
    member_join = and_(
        Membership.bot_id == Bot.id, Membership.partner_user_pk == Session.partner_user_pk
    )
    return db.session.execute(
        select(
            Session.customer_id,
            Session.partner_user_pk,
            Session.amr,
            Session.revoked_at,
            Session.expires_at,
            Bot.id.label("bot_found"),
            Bot.enabled,
            Bot.access,
            Bot.require_mfa,
            Membership.id.label("membership_id"),
            *_DISPLAY,
        )
        .select_from(Session)
        .outerjoin(Bot, bot_join)
        .outerjoin(Membership, member_join)
        .where(Session.id == session_id)
    ).first()


def denial_reason(row: Row[Any] | None, methods: set[str]) -> str | None:
    """The one rule: enabled, and ``all_users`` or a member, and MFA when the bot asks."""
    if row is None:
        return "unknown_bot"
    if not row.enabled:
        return "bot_disabled"
    if row.access != "all_users" and row.membership_id is None:
        return "not_a_member"
    if row.require_mfa and "mfa" not in methods:
        return "mfa_required"
    return None


_DISPLAY = (Bot.name, Bot.greeting, Bot.appearance)


def _access_query(
    customer_id: str, user: ColumnElement[bool], bot_ids: list[str], *columns: Any
) -> Select[Any]:
    return (
        select(
            Bot.id,
            Bot.enabled,
            Bot.access,
            Bot.require_mfa,
            Membership.id.label("membership_id"),
            PartnerUser.id.label("user_pk"),
            *columns,
        )
        .select_from(Bot)
        .outerjoin(PartnerUser, user)
        .outerjoin(
            Membership,
            and_(Membership.bot_id == Bot.id, Membership.partner_user_pk == PartnerUser.id),
        )
        .where(Bot.id.in_(bot_ids), Bot.customer_id == customer_id)
    )


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
