"""Security events: written from this one place, for every event DESIGN.md lists."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select

from . import fastsql
from .extensions import db
from .models import SecurityEvent, utcnow
from .security import new_id

log = logging.getLogger("chatframe.security")


class EventType(StrEnum):
    CODE_ISSUED = "code_issued"
    CODE_REDEEMED = "code_redeemed"
    CODE_REUSE = "code_reuse"
    EXCHANGE_DENIED = "exchange_denied"
    REFRESH_ROTATED = "refresh_rotated"
    REFRESH_REUSE = "refresh_reuse"
    SESSION_REVOKED = "session_revoked"
    SECRET_ROTATED = "secret_rotated"  # noqa: S105 - an event name
    SECRET_EXPOSED = "secret_exposed"  # noqa: S105 - client credentials sent from a browser
    KEY_ROTATED = "key_rotated"
    CONSOLE_SIGN_IN_OK = "console_sign_in_ok"
    CONSOLE_SIGN_IN_FAILED = "console_sign_in_failed"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"


def record(
    type: EventType,
    *,
    customer_id: str | None = None,
    client_id: str | None = None,
    partner_user: str | None = None,
    ip: str | None = None,
    commit: bool = True,
    **detail: Any,
) -> SecurityEvent:
    """Append a security event and log it. Pass ids only: never a secret, code or token."""
    event = SecurityEvent(
        type=str(type),
        customer_id=customer_id,
        client_id=client_id,
        partner_user_sub=partner_user,
        ip=ip,
        detail=detail,
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    _log(type, customer_id, client_id, partner_user, ip, detail)
    return event


def written_with(
    type: EventType,
    *,
    customer_id: str | None = None,
    client_id: str | None = None,
    partner_user: str | None = None,
    ip: str | None = None,
    **detail: Any,
) -> tuple[fastsql.Prepared, dict[str, Any]]:
    """The event as one step of a ``fastsql.transaction`` (logged like ``record``'s)."""
    params = {
        "id": new_id("evt"),
        "created_at": utcnow(),
        "type": str(type),
        "customer_id": customer_id,
        "client_id": client_id,
        "partner_user_sub": partner_user,
        "ip": ip,
        "detail": detail,
    }
    _log(type, customer_id, client_id, partner_user, ip, detail)
    return _INSERT, params


def _log(type: EventType, *fields: Any) -> None:
    log.info("%s customer=%s client=%s user=%s ip=%s detail=%s", type, *fields)


def search(
    customer_id: str,
    *,
    types: Iterable[str] = (),
    client_id: str | None = None,
    partner_user: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Select[SecurityEvent]:
    """The customer's events matching every filter given (``partner_user`` is the pairwise id)."""
    query = select(SecurityEvent).where(SecurityEvent.customer_id == customer_id)
    if wanted := list(types):
        query = query.where(SecurityEvent.type.in_(wanted))
    if client_id:
        query = query.where(SecurityEvent.client_id == client_id)
    if partner_user:
        query = query.where(SecurityEvent.partner_user_sub == partner_user)
    if since:
        query = query.where(SecurityEvent.created_at >= since)
    if until:
        query = query.where(SecurityEvent.created_at < until)
    return query


def unrotated_exposure(customer_id: str, client_id: str) -> SecurityEvent | None:
    """The latest ``secret_exposed`` event of a client whose secret was not rotated since."""
    latest = {
        kind: db.session.execute(
            search(customer_id, types=[kind], client_id=client_id)
            .order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        for kind in (EventType.SECRET_EXPOSED, EventType.SECRET_ROTATED)
    }
    exposed, rotated = latest[EventType.SECRET_EXPOSED], latest[EventType.SECRET_ROTATED]
    if exposed is None or (rotated is not None and rotated.created_at >= exposed.created_at):
        return None
    return exposed


# What each ``reason`` means, in the words a customer reads in the console.
REASONS = {
    "bad_client": "wrong client credentials or disabled client",
    "ip": "caller IP outside the client's allowlist",
    "origin": "origin not registered for the client",
    "bot": "bot not available to this user",
    "rate_limit": "too many codes requested",
    "wrong_password": "wrong password",
    "wrong_code": "wrong two-factor code",
    "locked": "locked after failed sign-ins",
    "revoked_in_console": "revoked in the console",
    "revoked_by_customer": "revoked with the management API",
    "revoked_by_client": "signed out (refresh token revoked)",
    "refresh_reuse": "a rotated refresh token was used again",
    "code_reuse": "the embed code was used twice",
}


def describe(detail: dict[str, Any] | None) -> list[str]:
    """An event's detail as short readable lines, e.g. ``bot_… : not a member``."""
    lines: list[str] = []
    for key, value in (detail or {}).items():
        label = key.replace("_", " ")
        if key == "bots" and isinstance(value, dict):
            lines += [f"{bot} : {str(why).replace('_', ' ')}" for bot, why in value.items()]
        elif key == "reason":
            lines.append(f"reason: {REASONS.get(str(value), str(value).replace('_', ' '))}")
        elif isinstance(value, bool):
            lines.append(f"{label}: {'yes' if value else 'no'}")
        elif isinstance(value, list):
            lines.append(f"{label}: {', '.join(str(item) for item in value) or '—'}")
        else:
            lines.append(f"{label}: {value}")
    return lines


_INSERT = fastsql.insert(SecurityEvent)
