"""The documentation at ``/docs`` and the landing page at the issuer's root ``/``.

Pages are rendered from ``docs/*.md`` once, at start-up (``authserver.docpages``); these views
only pick one. They run no script at all: their CSP allows our stylesheets and images only.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    send_from_directory,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from .. import docpages
from ..docpages import Handbook

bp = Blueprint("docs", __name__, template_folder="templates")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    """Render the documentation once and register ``/`` and ``/docs``."""
    app.extensions["chatframe_docs"] = docpages.load(docpages.docs_root())
    app.register_blueprint(bp)


def handbook() -> Handbook:
    found: Handbook = current_app.extensions["chatframe_docs"]
    return found


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


@bp.get("/")
def landing() -> ResponseReturnValue:
    return render_template("docs/landing.html")


@bp.get("/docs")
@bp.get("/docs/")
def index() -> ResponseReturnValue:
    return render_template("docs/index.html", pages=handbook().pages)


@bp.get("/docs/<name>")
def page(name: str) -> ResponseReturnValue:
    if name.endswith(".md"):
        return redirect(url_for("docs.page", name=name[:-3]), 301)
    found = handbook().page(name)
    if found is None:
        html = render_template("docs/not_found.html", pages=handbook().pages, name=name)
        return html, 404
    return render_template("docs/page.html", page=found, pages=handbook().pages)


@bp.get("/docs/images/<filename>")
def image(filename: str) -> ResponseReturnValue:
    folder = handbook().images
    if folder is None or not docpages.IMAGE_NAME.match(filename):
        raise NotFound()
    return send_from_directory(folder, filename, max_age=3600)
