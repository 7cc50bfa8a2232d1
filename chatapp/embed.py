"""The embed page ``/embed/{client_id}``, its native-app twin, static files and the SDK.

The embed page may be framed only by the client's allowed origins (CSP ``frame-ancestors``),
the native page by nobody; both run only our own scripts. Nothing is read from their URLs but
the public client_id (and, on the native page in fragment mode, the fragment's code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    render_template,
    request,
    send_from_directory,
)

from authserver.client_cache import ClientRecord
from authserver.services import services

from .sdk_bundle import SdkBuild
from .sdk_bundle import sdk_build as build_sdk

bp = Blueprint("embed", __name__, template_folder="templates")


def static_root() -> Path:
    """``embed_static/`` beside the package (a checkout) or in the working directory (images)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "embed_static", Path.cwd() / "embed_static"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError("embed_static/ not found beside chatapp/ or in the working directory")


def _client(client_id: str) -> ClientRecord | None:
    client = services().clients.get(client_id)
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


def sdk_build() -> SdkBuild:
    """The SDK as served (both forms, version, integrity), built from ``embed_static/sdk/``."""
    return build_sdk(static_root() / "sdk")


def wants_module(headers: Any) -> bool:
    """Whether the page is loading the SDK as an ES module rather than a classic script.

    A browser fetches module scripts (and ``import()``) in CORS mode and classic
    ``<script src>`` in no-cors mode; browsers without Fetch Metadata still send ``Origin``
    on a cross-origin CORS request only.
    """
    mode = headers.get("Sec-Fetch-Mode")
    if mode:
        return bool(mode == "cors")
    return "Origin" in headers


def _javascript(body: str, cache_control: str) -> Response:
    response = Response(body, mimetype="text/javascript")
    # Customers' pages load the SDK cross-origin (modules and SRI need CORS).
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = cache_control
    return response


@bp.get("/sdk/v1/chatframe.js")
def sdk_current() -> Response:
    """The current SDK: the ES module or the classic script, whichever the page asked for."""
    built = sdk_build()
    module = wants_module(request.headers)
    response = _javascript(built.module if module else built.classic, "public, max-age=300")
    response.headers["Vary"] = "Sec-Fetch-Mode, Origin"
    return response


@bp.get("/sdk/<version>/<filename>")
def sdk_file(version: str, filename: str) -> Response:
    """``/sdk/v1/{protocol.js,chatframe.d.ts}``, and the immutable versioned builds:
    ``/sdk/v1.<hash>/chatframe.js`` (classic) and ``/sdk/v1.<hash>/chatframe.mjs`` (module)."""
    built = sdk_build()
    if version == built.version and filename in ("chatframe.js", "chatframe.mjs"):
        body = built.classic if filename == "chatframe.js" else built.module
        return _javascript(body, "public, max-age=31536000, immutable")
    if version != "v1" or filename not in ("protocol.js", "chatframe.d.ts"):
        abort(404)
    response = send_from_directory(static_root() / "sdk", filename, max_age=300)
    if filename.endswith(".d.ts"):
        response.mimetype = "text/plain"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
