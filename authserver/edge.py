"""The edge: what every request must be before any view, grant or query sees it.

One rule for all endpoints, so both storage backends answer the same: no NUL character in the
path, the query, form fields, header values or Basic credentials (PostgreSQL refuses NUL in a
string, SQLite stores it), Basic credentials that are UTF-8, and JSON bodies that pass
``strictjson``. Anything else is 400 ``invalid_request`` with a sentence saying what to fix.

The answers any route can give are shaped here too, for the Flask app and the fast lane alike:
the default security headers, HTTP errors as JSON, and the 500 that names only an incident.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from .strictjson import StrictJSONProvider

MAX_BODY = 64 * 1024  # bytes: the largest request body Chatframe reads (413 beyond)
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_HEADER_KEYS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})  # headers without HTTP_ in WSGI


def init_app(app: Flask) -> None:
    """Make JSON parsing strict and refuse malformed requests before anything else runs."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json = StrictJSONProvider(app)
    app.before_request(_refuse_malformed)


def _refuse_malformed() -> Response | None:
    problem = malformed(request)
    return None if problem is None else refusal(problem)


def refusal(problem: str) -> Response:
    """400 ``invalid_request`` saying what to fix (``problem``, from :func:`malformed`)."""
    response = jsonify(error="invalid_request", error_description=problem)
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


def http_error(exc: HTTPException) -> Response:
    """An HTTP error (404, 405, 413, ...) as JSON with an OAuth-style error code."""
    code = exc.code or 500
    names = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
    error = names.get(code, "invalid_request" if code < 500 else "server_error")
    response = jsonify(error=error, error_description=exc.description)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    if code == 413:
        # The body was left unread, so this connection cannot carry another request:
        # say so (granian passes this on; gunicorn is told in its pre_request hook).
        response.headers["Connection"] = "close"
    return response


def malformed(req: Request) -> str | None:
    """Why ``req`` cannot be served, or None when it is well-formed."""
    environ = req.environ
    if "\x00" in req.path:
        return "The URL path contains a NUL character."
    # Read from the environ, not werkzeug's parsed views: this runs on every request. A NUL
    # reaches a decoded query only as a raw NUL or as %00, so the parse runs only then.
    query = environ.get("QUERY_STRING", "")
    if ("\x00" in query or "%00" in query) and _has_nul(req.args.items(multi=True)):
        return "A query parameter contains a NUL character."
    if header_has_nul(environ):
        return "A request header contains a NUL character."
    problem = _basic_credentials_problem(environ.get("HTTP_AUTHORIZATION", ""))
    if problem:
        return problem
    if req.mimetype in _FORMS and _has_nul(req.form.items(multi=True)):
        return "A form field contains a NUL character."
    return None


def header_has_nul(environ: dict[str, Any]) -> bool:
    """Whether a request header's value (as the WSGI environ holds it) contains a NUL."""
    return any(
        "\x00" in value
        for key, value in environ.items()
        if key.startswith("HTTP_") or key in _HEADER_KEYS
    )


def add_security_headers(response: Response) -> Response:
    """The headers every answer carries unless its view set its own (theirs win)."""
    # One pass over the headers a view or blueprint already set, not one scan per default:
    # this runs on every response.
    headers = response.headers
    present = {name.lower() for name, _ in headers.items()}
    for lowered, name, value in SECURITY_HEADERS:
        if lowered not in present:
            headers.add(name, value)
    if "cache-control" not in present and response.mimetype == "application/json":
        headers.add("Cache-Control", "no-store")
    return response


# (name, value) of the headers every answer carries, for an answer written as a header list.
SECURITY_HEADER_PAIRS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
)
SECURITY_HEADERS = tuple((name.lower(), name, value) for name, value in SECURITY_HEADER_PAIRS)


def server_error(incident: str) -> Response:
    """500 for an error nobody foresaw: an incident id to quote, never the error itself."""
    response = jsonify(
        error="server_error",
        error_description=f"Something went wrong on our side (incident {incident}).",
    )
    response.status_code = 500
    response.headers["Cache-Control"] = "no-store"
    return response


def _has_nul(items: Any) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in items)


def _basic_credentials_problem(header: str) -> str | None:
    """Basic credentials must decode (base64, then UTF-8, then form-decoding, RFC 6749 §2.3.1)
    to text without NUL; undecodable base64 is left to client authentication to refuse.

    A header with a blank after its scheme but nothing else (``Basic ``, or only blanks) is
    refused here: client authentication reads it as scheme + credentials and cannot parse it.
    """
    parts = header.split(None, 1)
    if " " in header and (not parts or (len(parts) == 1 and parts[0].lower() == "basic")):
        return (
            "The Authorization header carries no credentials: send 'Basic ' followed by the "
            "base64 of 'client_id:client_secret', or leave the header out."
        )
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip())
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return (
            "The Basic credentials are not UTF-8 text: "
            "send the base64 of 'client_id:client_secret'."
        )
    if "\x00" in unquote(text):
        return "The Basic credentials contain a NUL character."
    return None
