"""Sessions: the live iframe sessions of the customer's users; revoke one or all of a user's."""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import joinedload

from .. import sessions
from ..access import find_partner_user
from ..models import Session, utcnow
from ..paging import paginate
from ..services import services
from . import bp, confirm
from .scope import customer_id, owned_session

PAGE_SIZE = 50


@bp.get("/sessions")
def sessions_page() -> ResponseReturnValue:
    partner_user_id = request.args.get("user", "").strip()
    user = find_partner_user(customer_id(), partner_user_id) if partner_user_id else None
    page = None
    if user is not None or not partner_user_id:
        query = sessions.active_sessions(customer_id(), user.id if user else None).options(
            joinedload(Session.partner_user)
        )
        page = paginate(
            query,
            [Session.created_at, Session.id],
            cursor=request.args.get("cursor"),
            limit=PAGE_SIZE,
            newest_first=True,
        )
    seen = sessions.last_refreshed(s.id for s in page.items) if page else {}
    idle_after = dt.timedelta(seconds=services().settings.access_token_ttl)
    inactive = {sid for sid, at in seen.items() if utcnow() - at > idle_after}
    return render_template(
        "console/sessions.html",
        page=page,
        partner_user_id=partner_user_id,
        user=user,
        seen=seen,
        inactive=inactive,
        idle_minutes=max(1, round(idle_after.total_seconds() / 60)),
    )


@bp.post("/sessions/<session_id>/revoke")
def revoke_session(session_id: str) -> ResponseReturnValue:
    session = owned_session(session_id)
    back = url_for("console.sessions_page", user=request.form.get("user") or None)
    if not confirm.confirmed():
        return confirm.ask(
            title=f"Revoke session {session.id}?",
            message=f"The chat of {session.partner_user.partner_user_id} in that iframe stops on "
            "its next request; they need a new handshake to chat again.",
            button="Revoke session",
            cancel_url=back,
        )
    if sessions.revoke_session(session.id, "revoked_in_console", ip=request.remote_addr):
        flash(f"Session {session.id} is revoked: its next request is refused.", "success")
    else:
        flash(f"Session {session.id} had already ended.", "info")
    return redirect(back)


@bp.post("/sessions/revoke-all")
def revoke_user_sessions() -> ResponseReturnValue:
    partner_user_id = request.form.get("partner_user_id", "").strip()
    user = find_partner_user(customer_id(), partner_user_id)
    if user is None:
        abort(404)
    if not confirm.confirmed():
        return confirm.ask(
            title=f"Revoke every session of {partner_user_id}?",
            message="Every chat they have open stops on its next request; your site gets them a "
            "new session at their next handshake, if they may still chat.",
            button="Revoke all sessions",
            cancel_url=url_for("console.sessions_page", user=partner_user_id),
        )
    count = sessions.revoke_user_sessions(user, "revoked_in_console", ip=request.remote_addr)
    flash(f"Revoked {count} session{'s' if count != 1 else ''} of {partner_user_id}.", "success")
    return redirect(url_for("console.sessions_page", user=partner_user_id))
