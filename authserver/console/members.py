"""Members of a bot: search, add and remove the partner users who may chat with it."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .. import registry
from ..models import Bot, PartnerUser
from ..paging import paginate
from . import bp, confirm
from .forms import MemberForm
from .scope import owned_bot

PAGE_SIZE = 50


def _page(
    bot: Bot, form: MemberForm, *, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    search = request.args.get("q", "").strip()
    page = paginate(
        registry.memberships(bot, search or None),
        [PartnerUser.partner_user_id],
        cursor=request.args.get("cursor"),
        limit=PAGE_SIZE,
        key=lambda m: [m.partner_user.partner_user_id],
    )
    html = render_template(
        "console/members.html", bot=bot, form=form, page=page, search=search, error=error
    )
    return html, status


@bp.get("/bots/<bot_id>/members")
def members(bot_id: str) -> ResponseReturnValue:
    return _page(owned_bot(bot_id), MemberForm(formdata=None))


@bp.post("/bots/<bot_id>/members")
def add_member(bot_id: str) -> ResponseReturnValue:
    bot = owned_bot(bot_id)
    form = MemberForm()
    if not form.validate_on_submit():
        return _page(bot, form, status=400)
    partner_user_id = (form.partner_user_id.data or "").strip()
    try:
        added = registry.add_member(bot, partner_user_id, ip=request.remote_addr)
    except registry.RegistryError as exc:
        return _page(bot, form, error=str(exc), status=400)
    if added:
        flash(f"{partner_user_id} is now a member of {bot.name}.", "success")
    else:
        flash(f"{partner_user_id} was already a member of {bot.name}.", "info")
    return redirect(url_for("console.members", bot_id=bot.id))


@bp.post("/bots/<bot_id>/members/remove")
def remove_member(bot_id: str) -> ResponseReturnValue:
    bot = owned_bot(bot_id)
    partner_user_id = request.form.get("partner_user_id", "")
    if not confirm.confirmed():
        return confirm.ask(
            title=f"Remove {partner_user_id} from {bot.name}?",
            message="Their very next chat request to this bot is refused, and they get no new "
            "code for it.",
            button="Remove member",
            cancel_url=url_for("console.members", bot_id=bot.id),
        )
    if registry.remove_member(bot, partner_user_id, ip=request.remote_addr):
        flash(
            f"{partner_user_id} is no longer a member of {bot.name}; "
            "their next chat request to it is refused.",
            "success",
        )
    else:
        flash(f"{partner_user_id} was not a member of {bot.name}.", "info")
    return redirect(url_for("console.members", bot_id=bot.id))
