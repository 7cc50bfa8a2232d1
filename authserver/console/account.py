"""The signed-in user's account: two-factor authentication (TOTP) on and off."""

from __future__ import annotations

from flask import flash, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from ..extensions import db
from . import bp, mfa
from .forms import CodeForm

PENDING_KEY = "console_totp_enrolment"  # the sealed secret being enrolled, until confirmed


@bp.get("/account")
def account() -> str:
    return render_template("console/account.html")


def _enrolment_secret() -> str:
    """The secret offered on the enrolment page: the same one until it is confirmed."""
    sealed = session.get(PENDING_KEY)
    secret = mfa.unseal(sealed) if isinstance(sealed, str) else None
    if secret is None:
        secret = mfa.new_secret()
        session[PENDING_KEY] = mfa.seal(secret)  # sealed: the cookie is signed, not encrypted
    return secret


def _enrolment_page(
    form: CodeForm, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    secret = _enrolment_secret()
    uri = mfa.provisioning_uri(secret, current_user.email)
    page = render_template(
        "console/two_factor.html",
        form=form,
        secret=secret,
        qr_code=mfa.qr_code(uri),
        error=error,
    )
    return page, status


@bp.get("/account/two-factor")
def two_factor() -> ResponseReturnValue:
    if current_user.totp_secret:
        return render_template("console/two_factor.html", form=CodeForm(formdata=None))
    return _enrolment_page(CodeForm(formdata=None))


@bp.post("/account/two-factor")
def enrol_two_factor() -> ResponseReturnValue:
    if current_user.totp_secret:
        flash("Two-factor authentication is already on.", "info")
        return redirect(url_for("console.account"))
    form = CodeForm()
    if not form.validate_on_submit():
        return _enrolment_page(form, status=400)
    secret = _enrolment_secret()
    if not mfa.code_matches(current_user.id, secret, form.code.data or ""):
        error = "That code does not match. Check your app's clock and enter the current code."
        return _enrolment_page(form, error, status=400)
    current_user.totp_secret = mfa.seal(secret)
    db.session.commit()
    session.pop(PENDING_KEY, None)
    flash("Two-factor authentication is on: you will need a code each time you sign in.", "success")
    return redirect(url_for("console.account"))


@bp.post("/account/two-factor/off")
def disable_two_factor() -> ResponseReturnValue:
    form = CodeForm()
    secret = mfa.unseal(current_user.totp_secret) if current_user.totp_secret else None
    if secret is None:
        flash("Two-factor authentication is already off.", "info")
        return redirect(url_for("console.account"))
    if not form.validate_on_submit() or not mfa.code_matches(
        current_user.id, secret, form.code.data or ""
    ):
        error = "Enter a current code from your app to turn two-factor authentication off."
        page = render_template("console/two_factor.html", form=form, error=error)
        return page, 400
    current_user.totp_secret = None
    db.session.commit()
    flash("Two-factor authentication is off.", "success")
    return redirect(url_for("console.account"))
