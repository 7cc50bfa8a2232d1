"""Sessions and their rotating refresh tokens: create, rotate, revoke, check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, select, true, update

from . import events, fastsql
from .access import BOT_ACCESS, denial_reason, with_bot_access
from .events import EventType
from .extensions import db
from .models import PartnerUser, RefreshToken, Session, utcnow
from .security import Hasher, new_secret


def refresh_token_written_with(
    session_id: str, hasher: Hasher
) -> tuple[str, tuple[fastsql.Prepared, dict[str, Any]]]:
    """A new refresh token for ``session_id`` as a ``fastsql.transaction`` step, and its only
    plaintext copy."""
    token = new_secret("cfr")
    params = {
        "token_hash": hasher.hash(token),
        "session_id": session_id,
        "created_at": utcnow(),
        "rotated_at": None,
    }
    return token, (_INSERT_REFRESH, params)


def session_row(session: Session) -> dict[str, Any]:
    """A new session's columns, as the parameters of ``INSERT_SESSION``."""
    return {column.key: getattr(session, column.key) for column in Session.__table__.columns}


@dataclass
class RefreshRead:
    """A presented refresh token's row, with a detached copy of its session and ``denials``:
    each of the session's bots the user may not use right now, with why
    (``access.denial_reason``); empty when they may use them all."""

    id: int
    rotated_at: dt.datetime | None
    session: Session
    denials: dict[str, str]


def find_refresh_token(token: str, hasher: Hasher) -> RefreshRead | None:
    """The refresh token's row, its session and the user's current access to each of the
    session's bots, in one query (one row per bot)."""
    rows = _FIND_REFRESH.all(token_hash=hasher.hash(token))
    if not rows:
        return None
    values = rows[0]._asdict()
    row_id, rotated_at = values.pop("refresh_id"), values.pop("refresh_rotated_at")
    for column in _ACCESS_COLUMNS:
        values.pop(column)
    session = Session(**values)
    found_bots = {row.wanted_bot: row for row in rows if row.bot_found is not None}
    methods = set(session.amr or [])
    denials = {}
    for bot_id in session.bots or []:
        reason = denial_reason(found_bots.get(bot_id), methods)
        if reason:
            denials[bot_id] = reason
    return RefreshRead(row_id, rotated_at, session, denials)


def rotate_refresh_token(
    row_id: int,
    new_token: tuple[fastsql.Prepared, dict[str, Any]],
    event: tuple[fastsql.Prepared, dict[str, Any]],
) -> bool:
    """Claim the presented token and write its successor and the event, atomically; False
    (and nothing written) when another request claimed it first.

    The same concurrency rule as ``claim_refresh_token``, in one round trip: on PostgreSQL one
    statement (the claim a data-modifying ``WITH``, the inserts conditional on it); on SQLite
    one ``BEGIN IMMEDIATE`` transaction that stops after a claim that wrote nothing.
    """
    claim = (_CLAIM, {"row_id": row_id, "now": event[1]["created_at"]})
    return fastsql.transaction([claim, new_token, event], only_if_first_writes=True)


def claim_refresh_token(row: RefreshRead) -> bool:
    """Mark ``row`` rotated if nobody else has; True only for the one caller that did.

    This conditional UPDATE is the concurrency rule: of any number of simultaneous
    refreshes with one token, exactly one rotates it; every other one is treated as reuse.
    """
    return bool(_CLAIM.execute(row_id=row.id, now=utcnow()))


_CLAIM_REFRESH = (
    update(RefreshToken)
    .where(RefreshToken.id == bindparam("row_id"), RefreshToken.rotated_at.is_(None))
    .values(rotated_at=bindparam("now"))
    .execution_options(synchronize_session=False)
)


def revoke_session(
    session_id: str, reason: str, *, ip: str | None = None, commit: bool = True
) -> bool:
    """Revoke one session (idempotent); True if it was live. Records ``session_revoked``."""
    session = db.session.get(Session, session_id)
    if session is None or session.revoked_at is not None:
        return False
    session.revoked_at = utcnow()
    session.revoked_reason = reason
    events.record(
        EventType.SESSION_REVOKED,
        customer_id=session.customer_id,
        client_id=session.client_id,
        partner_user=session.partner_user_pk,
        ip=ip,
        commit=commit,
        session_id=session.id,
        reason=reason,
    )
    return True


def revoke_user_sessions(user: PartnerUser, reason: str, *, ip: str | None = None) -> int:
    """Revoke every live session of one partner user; return how many."""
    live = db.session.execute(
        select(Session.id).where(
            Session.partner_user_pk == user.id,
            Session.revoked_at.is_(None),
            Session.expires_at > utcnow(),
        )
    ).scalars()
    count = sum(revoke_session(sid, reason, ip=ip, commit=False) for sid in list(live))
    db.session.commit()
    return count


def active_sessions(customer_id: str, partner_user_pk: str | None = None) -> Select[Session]:
    """The customer's live sessions, optionally of one partner user (unordered)."""
    query = select(Session).where(
        Session.customer_id == customer_id,
        Session.revoked_at.is_(None),
        Session.expires_at > utcnow(),
    )
    if partner_user_pk is not None:
        query = query.where(Session.partner_user_pk == partner_user_pk)
    return query


def last_refreshed(session_ids: Iterable[str]) -> dict[str, dt.datetime]:
    """When each session last got tokens: its redemption or its latest refresh.

    A live iframe refreshes before its access token expires, so a session not refreshed for
    longer than the access-token lifetime has no open chat. Read from the refresh tokens the
    grants write anyway: chat requests write nothing.
    """
    ids = list(session_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(RefreshToken.session_id, func.max(RefreshToken.created_at))
        .where(RefreshToken.session_id.in_(ids))
        .group_by(RefreshToken.session_id)
    )
    return {session_id: seen for session_id, seen in rows.all()}


_INSERT_REFRESH = fastsql.insert(RefreshToken)
INSERT_SESSION = fastsql.insert(Session)

_CLAIM = fastsql.Prepared(_CLAIM_REFRESH)

_ACCESS_COLUMNS = ("wanted_bot", *(column.key for column in BOT_ACCESS))


def _find_refresh(dialect: str) -> Any:
    """A refresh token's row with its session, joined, per bot of the session (its JSON list,
    expanded), with that bot's access (``access.with_bot_access``: a bot of another customer
    reads as absent)."""
    if dialect == "postgresql":
        elements = func.json_array_elements_text(Session.bots).table_valued("value")
        wanted = elements.render_derived(name="wanted").lateral("wanted")
    else:  # SQLite's json_each has a "value" column of its own
        wanted = func.json_each(Session.bots).table_valued("value").alias("wanted")
    query = (
        select(
            RefreshToken.id.label("refresh_id"),
            RefreshToken.rotated_at.label("refresh_rotated_at"),
            *Session.__table__.columns,
            wanted.c.value.label("wanted_bot"),
            *BOT_ACCESS,
        )
        .select_from(RefreshToken)
        .join(Session, Session.id == RefreshToken.session_id)
        .outerjoin(wanted, true())
    )
    return with_bot_access(query, wanted.c.value).where(
        RefreshToken.token_hash == bindparam("token_hash")
    )


_FIND_REFRESH = fastsql.Prepared(_find_refresh)
