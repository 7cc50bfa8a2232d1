"""Sign-up, sign-in (password, then a TOTP code when enrolled) and sign-out."""

from __future__ import annotations

import time

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from .. import events, registry
from ..events import EventType
from ..extensions import db
from ..models import ConsoleUser, utcnow
from ..security import new_secret, password_matches
from ..services import services
from . import bp, mfa, safe_next
from .forms import CodeForm, SignInForm, SignUpForm
from .throttle import SignInThrottle, wait_message

SESSION_TTL = 12 * 3600  # a console session ends 12 hours after sign-in, whatever happens
PENDING_TTL = 300  # seconds to enter the TOTP code after the password
SIGN_UPS_PER_HOUR = 20  # per network address


def signed_in_user(user_id: str) -> ConsoleUser | None:
    """The console user of this browser session, if the session is still live server-side."""
    sid = session.get("console_sid")
    if not isinstance(sid, str):
        return None
    live = services().store.get("console_session", services().hasher.hash(sid))
    if not live or live.get("user") != user_id:
        return None
    return db.session.get(ConsoleUser, user_id)


def _start_session(user: ConsoleUser) -> None:
    session.clear()  # nothing from before the sign-in carries over
    sid = new_secret("cs")
    services().store.put(
        "console_session", services().hasher.hash(sid), {"user": user.id}, ttl=SESSION_TTL
    )
    session["console_sid"] = sid
    login_user(user)
    failures = user.failed_sign_ins
    user.failed_sign_ins, user.locked_until, user.last_sign_in_at = 0, None, utcnow()
    events.record(
        EventType.CONSOLE_SIGN_IN_OK,
        customer_id=user.customer_id,
        ip=request.remote_addr,
        console_user_id=user.id,
        mfa=bool(user.totp_secret),
    )
    if failures:
        flash(
            f"There were {failures} failed sign-in attempts on your account since you last "
            "signed in. If they were not you, turn on two-factor authentication.",
            "warning",
        )


def _failed(user: ConsoleUser | None, reason: str) -> None:
    events.record(
        EventType.CONSOLE_SIGN_IN_FAILED,
        customer_id=user.customer_id if user else None,
        ip=request.remote_addr,
        console_user_id=user.id if user else None,
        reason=reason,
    )


def _locked(template: str, form: object, seconds: int, **context: object) -> ResponseReturnValue:
    page = render_template(template, form=form, error=wait_message(seconds), **context)
    return page, 429, {"Retry-After": str(seconds)}


@bp.route("/sign-up", methods=["GET", "POST"])
def sign_up() -> ResponseReturnValue:
    if not services().settings.console_signup_open:
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for("console.overview"))
    form = SignUpForm()
    if not form.validate_on_submit():
        return render_template("console/sign_up.html", form=form), 400 if form.errors else 200
    count, retry = services().store.hit("console_sign_up", request.remote_addr or "", 3600)
    if count > SIGN_UPS_PER_HOUR:
        return _locked("console/sign_up.html", form, retry)
    try:
        user = registry.sign_up(form.company.data or "", form.email.data or "", form.password.data)
    except registry.RegistryError as exc:
        return render_template("console/sign_up.html", form=form, error=str(exc)), 400
    _start_session(user)
    flash("Welcome to Chatframe! Start by creating a client for your website.", "success")
    return redirect(url_for("console.overview"))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    next_page = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_page)
    form = SignInForm()
    signup = services().settings.console_signup_open
    page = "console/sign_in.html"
    if not form.validate_on_submit():
        return render_template(page, form=form, signup=signup), 400 if form.errors else 200
    email, ip = registry.normalize_email(form.email.data or ""), request.remote_addr
    throttle = SignInThrottle.current()
    user = registry.find_console_user(email)
    if wait := throttle.retry_after(email, ip):
        _failed(user, "locked")
        return _locked(page, form, wait, signup=signup)
    if user is None or not password_matches(form.password.data or "", user.password_hash):
        wait = throttle.failed(email, ip, user)
        _failed(user, "wrong_password")
        if wait:
            return _locked(page, form, wait, signup=signup)
        error = "That email and password do not match an account. Check both and try again."
        return render_template(page, form=form, signup=signup, error=error), 401
    if user.totp_secret:
        session["console_pending"] = {"user": user.id, "until": time.time() + PENDING_TTL}
        return redirect(url_for("console.verify", next=request.args.get("next")))
    _start_session(user)
    return redirect(next_page)


@bp.route("/sign-in/code", methods=["GET", "POST"])
def verify() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    pending = session.get("console_pending")
    user = None
    if isinstance(pending, dict) and float(pending.get("until", 0)) > time.time():
        user = db.session.get(ConsoleUser, str(pending.get("user")))
    if user is None or not user.totp_secret:
        session.pop("console_pending", None)
        flash("Your sign-in took too long; enter your email and password again.", "warning")
        return redirect(url_for("console.sign_in"))
    form = CodeForm()
    page = "console/verify.html"
    if not form.validate_on_submit():
        return render_template(page, form=form), 400 if form.errors else 200
    throttle = SignInThrottle.current()
    if wait := throttle.retry_after(user.email, request.remote_addr):
        _failed(user, "locked")
        return _locked(page, form, wait)
    secret = mfa.unseal(user.totp_secret)
    if secret is None or not mfa.code_matches(user.id, secret, form.code.data or ""):
        wait = throttle.failed(user.email, request.remote_addr, user)
        _failed(user, "wrong_code")
        if wait:
            return _locked(page, form, wait)
        error = "That code is not right (each code works once). Enter the current one."
        return render_template(page, form=form, error=error), 401
    _start_session(user)
    return redirect(safe_next(request.args.get("next")))


@bp.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    sid = session.get("console_sid")
    if isinstance(sid, str):  # end it server-side too: a copied cookie is worthless after this
        services().store.consume("console_session", services().hasher.hash(sid), {}, 1)
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("console.sign_in"))
