"""Bots: create and edit name, greeting, colours, access, MFA and the FAQ; delete."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from .. import registry
from ..extensions import db
from ..models import Bot
from . import bp, confirm
from .forms import BotForm, FaqForm
from .scope import customer_id, owned_bot


def _fields(form: BotForm) -> dict[str, Any]:
    return {
        "greeting": form.greeting.data,
        "fallback": form.fallback.data,
        "require_mfa": form.require_mfa.data,
        "enabled": form.enabled.data,
        "appearance": {
            "accent": form.accent.data or None,
            "background": form.background.data or None,
        },
    }


@bp.get("/bots")
def bots() -> str:
    rows = db.session.execute(
        select(Bot).where(Bot.customer_id == customer_id()).order_by(Bot.created_at, Bot.id)
    ).scalars()
    return render_template("console/bots.html", bots=list(rows))


@bp.route("/bots/new", methods=["GET", "POST"])
def new_bot() -> ResponseReturnValue:
    form = BotForm()
    if not form.validate_on_submit():
        return render_template("console/bot_new.html", form=form), 400 if form.errors else 200
    try:
        bot = registry.create_bot(
            registry.get_customer(customer_id()),
            form.name.data or "",
            form.access.data,
            **_fields(form),
        )
    except registry.RegistryError as exc:
        db.session.rollback()
        return render_template("console/bot_new.html", form=form, error=str(exc)), 400
    flash(f"{bot.name} is ready. Add FAQ entries and members next.", "success")
    return redirect(url_for("console.bot", bot_id=bot.id))


def _detail(
    bot: Bot,
    *,
    form: BotForm | None = None,
    faq_form: FaqForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    if form is None:
        form = BotForm(formdata=None, obj=bot)
        form.accent.data = (bot.appearance or {}).get("accent", form.accent.default)
        form.background.data = (bot.appearance or {}).get("background", form.background.default)
    faq_form = faq_form or FaqForm(formdata=None, prefix="faq")
    page = render_template("console/bot.html", bot=bot, form=form, faq_form=faq_form, error=error)
    return page, status


@bp.get("/bots/<bot_id>")
def bot(bot_id: str) -> ResponseReturnValue:
    return _detail(owned_bot(bot_id))


@bp.post("/bots/<bot_id>")
def update_bot(bot_id: str) -> ResponseReturnValue:
    bot = owned_bot(bot_id)
    form = BotForm()
    if not form.validate_on_submit():
        return _detail(bot, form=form, status=400)
    try:
        registry.update_bot(bot, name=form.name.data, access=form.access.data, **_fields(form))
    except registry.RegistryError as exc:
        db.session.rollback()
        return _detail(bot, form=form, error=str(exc), status=400)
    flash("Bot saved.", "success")
    return redirect(url_for("console.bot", bot_id=bot.id))


@bp.post("/bots/<bot_id>/delete")
def delete_bot(bot_id: str) -> ResponseReturnValue:
    bot = owned_bot(bot_id)
    if not confirm.confirmed():
        return confirm.ask(
            title=f"Delete {bot.name}?",
            message="Its FAQ, members and conversations are deleted with it, and its open chats "
            "stop on their next request. This cannot be undone.",
            button="Delete bot",
            cancel_url=url_for("console.bot", bot_id=bot.id),
        )
    name = bot.name
    registry.delete_bot(bot)
    flash(f"{name} is deleted, with its FAQ, members and conversations.", "success")
    return redirect(url_for("console.bots"))


@bp.post("/bots/<bot_id>/faq")
def add_faq(bot_id: str) -> ResponseReturnValue:
    bot = owned_bot(bot_id)
    faq_form = FaqForm(prefix="faq")
    if not faq_form.validate_on_submit():
        return _detail(bot, faq_form=faq_form, status=400)
    try:
        registry.add_faq(bot, faq_form.question.data or "", faq_form.answer.data or "")
    except registry.RegistryError as exc:
        db.session.rollback()
        return _detail(bot, faq_form=faq_form, error=str(exc), status=400)
    flash("FAQ entry added.", "success")
    return redirect(url_for("console.bot", bot_id=bot.id, _anchor="faq"))


@bp.route("/bots/<bot_id>/faq/<int:number>", methods=["GET", "POST"])
def edit_faq(bot_id: str, number: int) -> ResponseReturnValue:
    bot = owned_bot(bot_id)
    if not 1 <= number <= len(bot.faq):
        return render_template(
            "console/error.html",
            title="No such FAQ entry",
            message=f"{bot.name} has {len(bot.faq)} FAQ entries.",
        ), 404
    entry = bot.faq[number - 1]
    form = FaqForm(obj=entry)
    if form.validate_on_submit():
        try:
            registry.update_faq_entry(
                bot, number - 1, form.question.data or "", form.answer.data or ""
            )
        except registry.RegistryError as exc:
            db.session.rollback()
            page = render_template(
                "console/faq_edit.html", bot=bot, number=number, form=form, error=str(exc)
            )
            return page, 400
        flash(f"FAQ entry {number} saved.", "success")
        return redirect(url_for("console.bot", bot_id=bot.id, _anchor="faq"))
    page = render_template("console/faq_edit.html", bot=bot, number=number, form=form)
    return page, 400 if form.errors else 200


@bp.post("/bots/<bot_id>/faq/<int:number>/remove")
def remove_faq(bot_id: str, number: int) -> ResponseReturnValue:
    bot = owned_bot(bot_id)
    registry.remove_faq_entry(bot, number - 1)
    flash(f"FAQ entry {number} removed.", "success")
    return redirect(url_for("console.bot", bot_id=bot.id, _anchor="faq"))
