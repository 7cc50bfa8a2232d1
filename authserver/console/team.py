"""Team: the customer's console users; any of them may add or remove another."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from .. import registry
from . import bp, confirm
from .forms import ConsoleUserForm
from .scope import customer_id, owned_console_user


def _page(
    form: ConsoleUserForm, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    users = registry.console_users(customer_id())
    return render_template("console/team.html", users=users, form=form, error=error), status


@bp.get("/team")
def team() -> ResponseReturnValue:
    return _page(ConsoleUserForm(formdata=None))


@bp.post("/team")
def add_console_user() -> ResponseReturnValue:
    form = ConsoleUserForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        user = registry.create_console_user(
            registry.get_customer(customer_id()), form.email.data or "", form.password.data or ""
        )
    except registry.RegistryError as exc:
        return _page(form, str(exc), status=400)
    flash(
        f"{user.email} can now sign in with the password you chose. Ask them to turn on "
        "two-factor authentication.",
        "success",
    )
    return redirect(url_for("console.team"))


@bp.post("/team/<user_id>/remove")
def remove_console_user(user_id: str) -> ResponseReturnValue:
    user = owned_console_user(user_id)
    if user.id == current_user.id:
        flash("You cannot remove yourself; ask another console user to do it.", "warning")
        return redirect(url_for("console.team"))
    if not confirm.confirmed():
        return confirm.ask(
            title=f"Remove {user.email}?",
            message="They can no longer sign in, and their console session ends at once.",
            button="Remove console user",
            cancel_url=url_for("console.team"),
        )
    email = user.email
    registry.remove_console_user(user)
    flash(f"{email} can no longer sign in.", "success")
    return redirect(url_for("console.team"))
