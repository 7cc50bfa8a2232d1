"""The customer console (``/console``): server-rendered pages where customers run everything.

Deny by default: every page needs a signed-in console user except the few in
``PUBLIC_ENDPOINTS``, every form is CSRF-checked, and everything a page reads is scoped to
the signed-in user's customer — another customer's objects answer 404.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, NotFound

from ..extensions import db
from ..models import ConsoleUser
from ..paging import CursorError
from ..registry import RegistryError
from ..services import services

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
login_manager = LoginManager()
csrf = CSRFProtect()

PUBLIC_ENDPOINTS = {"console.sign_in", "console.sign_up", "console.verify", "console.static"}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    """Register the console on ``app``: its pages, sign-in sessions and CSRF protection."""
    from . import (  # noqa: F401 - their routes join bp
        account,
        auth,
        bots,
        clients,
        install,
        live_sessions,
        members,
        overview,
        security_events,
        team,
    )

    # The cookie only travels to the console; the token endpoints and APIs never read it.
    app.config.update(
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_NAME="chatframe_console",
        WTF_CSRF_CHECK_DEFAULT=False,  # only console forms are CSRF-checked (in _gate)
    )
    app.session_interface = ConsoleOnlySessions()
    login_manager.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(bp)


class ConsoleOnlySessions(SecureCookieSessionInterface):
    """Sessions live under the cookie's path (``/console``) only: a browser sends the cookie
    nowhere else, so elsewhere (token endpoint, chat and management APIs, embed pages) the
    session is the read-only null session, and no cookie is read, signed or written there."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith(self.get_cookie_path(app)):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if self.is_null_session(session):
            return
        super().save_session(app, session, response)


@login_manager.user_loader
def _load_user(user_id: str) -> ConsoleUser | None:
    from .auth import signed_in_user

    return signed_in_user(user_id)


@bp.before_request
def _gate() -> ResponseReturnValue | None:
    if request.endpoint not in PUBLIC_ENDPOINTS and not current_user.is_authenticated:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("console.sign_in", next=target))
    csrf.protect()
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    # Same-origin referrers let Flask-WTF check them on https; nothing leaves the console.
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    return _error_page(
        400,
        "This form has expired or did not come from this console",
        "Go back, reload the page and send the form again.",
    )


@bp.errorhandler(RegistryError)
@bp.errorhandler(CursorError)
def _bad_value(exc: ValueError) -> tuple[str, int]:
    db.session.rollback()
    return _error_page(400, "That change could not be made", str(exc))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    if isinstance(exc, NotFound):
        return _error_page(
            404, "Page not found", "There is nothing here, or it belongs to another account."
        )
    return _error_page(exc.code or 500, exc.name, exc.description or "")


def _error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("console/error.html", title=title, message=message), status


@bp.get("/<path:anything>")
def not_found(anything: str) -> tuple[str, int]:
    raise NotFound()


@bp.context_processor
def _context() -> dict[str, Any]:
    return {"production": services().settings.production}


@bp.app_template_filter("when")
def _when(value: Any) -> str:
    """A time as ``2026-05-01 12:00 UTC``."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of ours, never another site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/console/"):
            return target
    return url_for("console.overview")
