"""Who may talk to which bot: the one place that decides bot access for a partner user."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, select
from sqlalchemy.exc import IntegrityError

from . import fastsql
from .extensions import db, reads_only
from .models import Bot, Membership, PartnerUser, Session, utcnow
from .security import new_id


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
    by_pk = partner_user_pk is not None
    user_param = (
        {"user_pk": partner_user_pk} if by_pk else {"partner_user_id": partner_user_id or ""}
    )
    if 0 < len(wanted) <= _FAST_BOTS:
        fast = _fast_access(len(wanted), by_pk)
        bots = {f"bot_{i}": bot_id for i, bot_id in enumerate(wanted)}
        found: list[Any] = fast.all(customer_id=customer_id, **bots, **user_param)
    else:
        statement = _ACCESS_BY_PK if by_pk else _ACCESS_BY_PARTNER_ID
        params = {"customer_id": customer_id, "bot_ids": wanted, **user_param}
        with reads_only():
            found = list(db.session.execute(statement, params))
    rows = {row.id: row for row in found}
    if rows:
        user_pk = next(iter(rows.values())).user_pk
    else:  # none of the bots exists: the user on its own
        user = (
            _USER_BY_PK.first(user_pk=partner_user_pk)
            if by_pk
            else _USER_ID.first(customer_id=customer_id, **user_param)
        )
        user_pk = user.id if user else None
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
        _ACCESS_WITH_DISPLAY,
        {"customer_id": customer_id, "user_pk": partner_user_pk, "bot_ids": [bot_id]},
    ).first()
    return row, denial_reason(row, set(amr))


def session_with_bot(session_id: str, bot_id: str | None) -> Any:
    """A session's state and, in the same query, one bot's access and display fields.

    The chat API's token check for a bot route: one round trip reads whether the session is
    live and whether its user may use that bot right now. ``bot_found`` is None when the bot
    does not exist or is another customer's.
    """
    return _FAST_SESSION_WITH_BOT.first(session_id=session_id, bot_id=bot_id or "")


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

# What ``denial_reason`` reads of a bot joined by ``with_bot_access`` (``bot_found`` is None
# when the bot does not exist or is another customer's).
BOT_ACCESS = (
    Bot.id.label("bot_found"),
    Bot.enabled,
    Bot.access,
    Bot.require_mfa,
    Membership.id.label("membership_id"),
)


_Query = TypeVar("_Query", bound=Select)


def with_bot_access(query: _Query, bot_id: Any) -> _Query:
    """``query`` (of sessions) outer-joined with the session customer's bot ``bot_id`` and the
    session user's membership of it, for the ``BOT_ACCESS`` columns."""
    return query.outerjoin(
        Bot, and_(Bot.id == bot_id, Bot.customer_id == Session.customer_id)
    ).outerjoin(
        Membership,
        and_(Membership.bot_id == Bot.id, Membership.partner_user_pk == Session.partner_user_pk),
    )


# Built once: constructing a statement costs more than running it on the hot path.
_SESSION_WITH_BOT = with_bot_access(
    select(
        Session.customer_id,
        Session.partner_user_pk,
        Session.amr,
        Session.revoked_at,
        Session.expires_at,
        *BOT_ACCESS,
        *_DISPLAY,
    ).select_from(Session),
    bindparam("bot_id"),
).where(Session.id == bindparam("session_id"))


_FAST_SESSION_WITH_BOT = fastsql.Prepared(_SESSION_WITH_BOT)
_FAST_BOTS = 16  # a fast statement per number of bots asked for, up to this many


@lru_cache(maxsize=2 * _FAST_BOTS)
def _fast_access(count: int, by_pk: bool) -> fastsql.Prepared:
    """The access query for ``count`` bots (``bot_0`` ...), by pairwise id or partner id."""
    bots: list[Any] = [bindparam(f"bot_{i}") for i in range(count)]
    user = _BY_PK if by_pk else _BY_PARTNER_ID
    return fastsql.Prepared(_access_query(user, bots=bots))


def _access_query(
    user: ColumnElement[bool], *columns: Any, bots: list[Any] | None = None
) -> Select[Any]:
    """The customer's bots (``bot_ids``) joined with one user and the user's memberships."""
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
        .where(
            Bot.id.in_(bots if bots is not None else bindparam("bot_ids", expanding=True)),
            Bot.customer_id == bindparam("customer_id"),
        )
    )


_BY_PK = PartnerUser.id == bindparam("user_pk")
_ACCESS_BY_PK = _access_query(_BY_PK)
_ACCESS_WITH_DISPLAY = _access_query(_BY_PK, *_DISPLAY)
_BY_PARTNER_ID = and_(
    PartnerUser.customer_id == bindparam("customer_id"),
    PartnerUser.partner_user_id == bindparam("partner_user_id"),
)
_ACCESS_BY_PARTNER_ID = _access_query(_BY_PARTNER_ID)


def find_partner_user(customer_id: str, partner_user_id: str) -> PartnerUser | None:
    return db.session.execute(
        select(PartnerUser).where(
            PartnerUser.customer_id == customer_id,
            PartnerUser.partner_user_id == partner_user_id,
        )
    ).scalar_one_or_none()


def new_partner_user(
    customer_id: str, partner_user_id: str
) -> tuple[str, tuple[fastsql.Prepared, dict[str, Any]]]:
    """A fresh pairwise id for a user not seen yet, and the insert that creates them: a
    ``fastsql.transaction`` step that writes nothing when the user exists after all (another
    request created them in between; their id is then the user's)."""
    fresh = new_id("usr")
    row = {
        "id": fresh,
        "customer_id": customer_id,
        "partner_user_id": partner_user_id,
        "name": None,
        "email": None,
        "created_at": utcnow(),
    }
    return fresh, (_INSERT_USER, row)


def ensure_partner_user(customer_id: str, partner_user_id: str) -> str:
    """The pairwise id of the customer's user, created on first sight: ``get_or_create``'s
    fast twin for a user with no name or email to store (two statements, no transaction).

    Idempotent under concurrency: the insert skips a row the unique (customer, partner user
    id) constraint already holds, and the id is then read back, the winner's.
    """
    fresh, (insert_user, row) = new_partner_user(customer_id, partner_user_id)
    if insert_user.execute(**row):
        return fresh
    found = _USER_ID.first(customer_id=customer_id, partner_user_id=partner_user_id)
    if found is None:  # removed in between: the transactional path decides
        return get_or_create_partner_user(customer_id, partner_user_id).id
    return str(found.id)


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


_INSERT_USER = fastsql.insert(PartnerUser, skip_conflicts=True)
_USER_ID = fastsql.Prepared(select(PartnerUser.id).where(_BY_PARTNER_ID))
_USER_BY_PK = fastsql.Prepared(select(PartnerUser.id).where(_BY_PK))
