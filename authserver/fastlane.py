"""The fast lane: the hottest requests, answered without Flask's request cycle.

Two requests run on every end user's page load and every chat request or management call:
``POST /oauth/token`` with ``client_credentials`` and the chat API's ``GET /chat/api/bots/<id>``.
Flask's request context, URL map, hooks and response machinery cost more than the work those
requests do, so this WSGI middleware answers them from the same protocol code (client
authentication, token signing, the chat token check) inside an app context only.

Nothing is decided twice, and nothing differently: a lane takes only the plain, well-formed
shape of its request and hands every other one (any refusal the lane is not sure to answer
exactly as the app would, any request the edge would refuse) to the Flask app untouched. What a
lane answers carries the same headers, body and metrics as the app's answer. A lane whose
request has had a side effect (a DPoP ``jti`` remembered) answers its refusals itself.
"""

from __future__ import annotations

import io
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Response
from werkzeug.wrappers import Request

from . import edge, metrics, outages

log = logging.getLogger("chatframe")

# A lane handler: the request (and the path's parameters) in, a response or None (not mine).
Handler = Callable[..., Response | None]
StartResponse = Callable[..., Any]


class PassToApp(Exception):
    """Raised by a lane that cannot answer this request exactly as the app would."""


@dataclass(frozen=True)
class Lane:
    method: str
    path: re.Pattern[str]
    rule: str  # the Flask rule of the same endpoint: the metrics label
    handler: Handler
    # True when the handler has no side effect before it answers, so an unexpected error may
    # be handed to the app to answer; False once it may have one (then it answers errors).
    retry_in_app: bool


class FastLane:
    """WSGI middleware in front of the Flask app's ``wsgi_app`` for the registered lanes."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self._lanes: dict[str, list[Lane]] = {}

    def add(
        self, method: str, path: str, rule: str, handler: Handler, *, retry_in_app: bool
    ) -> None:
        """Serve ``method`` requests whose PATH_INFO fully matches the regex ``path``."""
        lane = Lane(method, re.compile(path), rule, handler, retry_in_app)
        self._lanes.setdefault(method, []).append(lane)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        lanes = self._lanes.get(environ.get("REQUEST_METHOD", ""))
        if lanes:
            path = environ.get("PATH_INFO", "")
            for lane in lanes:
                match = lane.path.fullmatch(path)
                if match is not None:
                    response = self._serve(lane, environ, match.groupdict())
                    if response is not None:
                        return response(environ, start_response)
                    break
        return self.wsgi_app(environ, start_response)

    def _serve(
        self, lane: Lane, environ: dict[str, Any], params: dict[str, str]
    ) -> Response | None:
        started = time.perf_counter()
        request = Request(environ)
        with self.app.app_context():
            try:
                response = lane.handler(request, **params)
            except PassToApp:
                return None
            except Exception as exc:
                if lane.retry_in_app:
                    return None
                response = _error_response(exc, request)
        if response is None:
            return None
        edge.add_security_headers(response)
        metrics.count_request(lane.rule, request.method, response.status_code, started)
        return response


def read_form(request: Request) -> list[tuple[str, str]]:
    """The urlencoded body's pairs, decoded as werkzeug would; PassToApp for anything else.

    The body is put back, so the app reads it again when the lane passes the request on. Only
    a plain ASCII body with a Content-Length of at most ``edge.MAX_BODY`` is read here.
    """
    environ = request.environ
    if request.mimetype != "application/x-www-form-urlencoded" or request.mimetype_params:
        raise PassToApp
    if "HTTP_TRANSFER_ENCODING" in environ:
        raise PassToApp
    length = environ.get("CONTENT_LENGTH", "")
    if not length.isdigit() or not 0 < int(length) <= edge.MAX_BODY:
        raise PassToApp
    body = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        return parse_qsl(body.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise PassToApp from exc


def _error_response(exc: Exception, request: Request) -> Response:
    """The app's answer to an exception: 503 for a store outage, else 500 with an incident."""
    outage = outages.as_outage(exc)
    if outage is not None:
        outages.log_outage(exc, outage, request.method, request.path)
        return outages.unavailable_json(outage)
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error on %s %s (incident %s)", request.method, request.path, incident)
    return edge.server_error(incident)
