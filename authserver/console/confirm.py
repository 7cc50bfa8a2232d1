"""Confirmation for destructive actions: a page that asks, then the same form with ``confirm``.

Works without JavaScript: the action's button posts its form; without ``confirm=yes`` the
action does nothing and answers this page, whose button posts the same fields again with it.
"""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

NOT_REPLAYED = {"csrf_token", "confirm"}


def confirmed() -> bool:
    """Whether this POST carries the explicit confirmation."""
    return request.form.get("confirm") == "yes"


def ask(*, title: str, message: str, button: str, cancel_url: str) -> ResponseReturnValue:
    """The page asking to confirm this POST; its button sends the same form, confirmed."""
    fields = {k: v for k, v in request.form.items() if k not in NOT_REPLAYED}
    return render_template(
        "console/confirm.html",
        title=title,
        message=message,
        button=button,
        action=request.path,
        fields=fields,
        cancel_url=cancel_url,
    )
