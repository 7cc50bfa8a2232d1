"""The console's home page: what this customer has, and what to do next."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user
from sqlalchemy import func, select

from .. import events, sessions
from ..extensions import db
from ..models import Bot, Client, SecurityEvent
from . import bp


@bp.get("/")
def overview() -> str:
    customer_id = current_user.customer_id
    clients = db.session.scalar(
        select(func.count()).select_from(Client).where(Client.customer_id == customer_id)
    )
    bots = db.session.scalar(
        select(func.count()).select_from(Bot).where(Bot.customer_id == customer_id)
    )
    live = db.session.scalar(
        select(func.count()).select_from(sessions.active_sessions(customer_id).subquery())
    )
    recent = db.session.execute(
        events.search(customer_id)
        .order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())
        .limit(8)
    ).scalars()
    return render_template(
        "console/overview.html",
        counts={"clients": clients or 0, "bots": bots or 0, "sessions": live or 0},
        recent=list(recent),
    )
