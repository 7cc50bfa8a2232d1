"""The embed page ``/embed/{client_id}``, its native-app twin, static files and the SDK.

The embed page may be framed only by the client's allowed origins (CSP ``frame-ancestors``),
the native page by nobody; both run only our own scripts. Nothing is read from their URLs but
the public client_id (and, on the native page in fragment mode, the fragment's code).
"""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    render_template,
    request,
    send_from_directory,
)

from authserver.extensions import db
from authserver.models import Client
from authserver.services import services

bp = Blueprint("embed", __name__, template_folder="templates")


def static_root() -> Path:
    """``embed_static/`` beside the package (a checkout) or in the working directory (images)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "embed_static", Path.cwd() / "embed_static"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError("embed_static/ not found beside chatapp/ or in the working directory")


def _client(client_id: str) -> Client | None:
    if not client_id.startswith("cf_") or len(client_id) > 40:
        return None
    client = db.session.get(Client, client_id)
    return client if client is not None and client.enabled else None


def embed_csp(origins: list[str]) -> str:
    ancestors = " ".join(origins) if origins else "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )


@bp.get("/embed/<client_id>")
def embed_page(client_id: str) -> Response:
    client = _client(client_id)
    if client is None:
        response = Response(
            render_template("chatapp/not_found.html"), status=404, mimetype="text/html"
        )
        response.headers["Content-Security-Policy"] = embed_csp([])
        response.headers["Cache-Control"] = "no-store"
        return response
    settings = services().settings
    config = {
        "clientId": client.id,
        "issuer": settings.issuer,
        "allowedOrigins": list(client.allowed_origins),
    }
    response = Response(render_template("chatapp/embed.html", config=config), mimetype="text/html")
    response.headers["Content-Security-Policy"] = embed_csp(list(client.allowed_origins))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/embed/<client_id>/native")
def native_page(client_id: str) -> Response:
    """The chat as a top-level page for native app WebViews; its code comes from the app.

    Never framed, never an opener's puppet (COOP), no referrer: the code reaches it over the
    app's bridge, or (fragment mode) in the URL fragment that fragment.js clears first thing.
    """
    client = _client(client_id)
    if client is None or not client.native_enabled:
        template = "chatapp/not_found.html" if client is None else "chatapp/native_unavailable.html"
        response = Response(render_template(template), status=404, mimetype="text/html")
    else:
        settings = services().settings
        config = {
            "clientId": client.id,
            "issuer": settings.issuer,
            "mode": "native",
            "nativeOrigin": settings.native_origin,
            "fragment": client.allows_native_fragment,
        }
        response = Response(
            render_template("chatapp/native.html", config=config), mimetype="text/html"
        )
    response.headers["Content-Security-Policy"] = embed_csp([])
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    return response


@bp.get("/embed/<client_id>/status")
def embed_status(client_id: str) -> Response:
    """Tell the SDK whether the page's own origin may embed this client (for clear errors).

    Only what the embed page's CSP already publishes; answered to any origin.
    """
    client = _client(client_id)
    origin = request.headers.get("Origin", "")
    allowed = bool(client and client.allows_origin(origin))
    response = jsonify({"client": client is not None, "origin_allowed": allowed})
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/embed-static/<path:filename>")
def iframe_static(filename: str) -> Response:
    response = send_from_directory(static_root() / "iframe", filename, max_age=300)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/sdk/v1/<path:filename>")
def sdk(filename: str) -> Response:
    if filename not in ("chatframe.js", "protocol.js", "chatframe.d.ts"):
        abort(404)
    response = send_from_directory(static_root() / "sdk", filename, max_age=300)
    if filename.endswith(".d.ts"):
        response.mimetype = "text/plain"
    # Customers' pages load the SDK cross-origin as an ES module: it needs CORS.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
