"""The fast lane: the hottest requests, answered without Flask's request cycle.

Every end user's page load costs a token exchange and a code redemption, every chat request a
token check, every management call a ``client_credentials`` token. Flask's request context, URL
map, hooks and response machinery cost more than some of those requests' own work, so this
WSGI middleware answers ``POST /oauth/token`` and the chat API's ``GET /chat/api/bots/<id>``
with the same protocol code (Authlib's token endpoint and our grants, the chat token check),
inside an app context only.

The answers are the app's: the same edge checks, headers, body, metrics, 503 on a store outage
and 500 with an incident id. A lane hands the app only what it takes before reading anything:
a body the app would refuse as too large or cannot size (chunked), or a path it does not own.

A shortcut goes further, for one request shape so common and so simple that even a lane's
request object, app context and Authlib's endpoint cost more than its work: a plain, granted
``client_credentials`` request (``authserver.views.oauth.plain_client_credentials``). It sees
the raw environ and the body, answers from memory alone (no database, no Redis) or declines,
and whatever it declines goes down the lane as if it had never looked.

Flask's ``before_request``/``after_request`` hooks do not run here: an app-wide hook added to
the app must get its equivalent in ``FastLane._serve`` (``test_fast_lane.py`` compares the
two paths' answers, so a difference in headers or body shows there).
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

from flask import Flask, Response
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from . import edge, metrics, outages

log = logging.getLogger("chatframe")

# A lane handler: the request (and the path's parameters) in, the response out.
Handler = Callable[..., Response]
StartResponse = Callable[..., Any]
# A shortcut: the environ and the request body in; (status, headers, body) out, or None to
# decline (the request then takes its lane). It must not read the environ's wsgi.input.
Answer = tuple[int, list[tuple[str, str]], bytes]
Shortcut = Callable[[dict[str, Any], bytes], Answer | None]
SHORTCUT_MAX_BODY = 1024  # bytes: a shortcut's requests are small; anything larger takes the lane


class LaneRequest(Request):
    """A werkzeug request with the app's body limit (``edge.MAX_BODY``, 413 beyond)."""

    max_content_length = edge.MAX_BODY


@dataclass(frozen=True)
class Lane:
    path: re.Pattern[str]
    rule: str  # the Flask rule of the same endpoint: the metrics label
    handler: Handler


class FastLane:
    """WSGI middleware in front of the Flask app's ``wsgi_app`` for the registered lanes."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self._lanes: dict[str, list[Lane]] = {}
        self._shortcuts: dict[tuple[str, str], tuple[str, Shortcut]] = {}

    def add(self, method: str, path: str, rule: str, handler: Handler) -> None:
        """Serve ``method`` requests whose PATH_INFO fully matches the regex ``path``."""
        self._lanes.setdefault(method, []).append(Lane(re.compile(path), rule, handler))

    def add_shortcut(self, method: str, path: str, rule: str, shortcut: Shortcut) -> None:
        """Offer ``method`` requests to exactly ``path`` to ``shortcut`` before their lane."""
        self._shortcuts[(method, path)] = (rule, shortcut)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self._shortcuts:
            key = (environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
            found = self._shortcuts.get(key)
            if found is not None:
                answered = _shortcut(*found, environ, start_response)
                if answered is not None:
                    return answered
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
        if not _body_fits(environ):
            return None
        request = LaneRequest(environ)
        with self.app.app_context():
            try:
                problem = edge.malformed(request)
                if problem is not None:
                    response = edge.refusal(problem)
                else:
                    response = lane.handler(request, **params)
            except Exception as exc:
                response = _error_response(exc, request)
            edge.add_security_headers(response)
        metrics.count_request(lane.rule, request.method, response.status_code, started)
        return response


def _shortcut(
    rule: str, shortcut: Shortcut, environ: dict[str, Any], start_response: StartResponse
) -> Iterable[bytes] | None:
    """The shortcut's answer, or None with the environ as it was (its body put back)."""
    started = time.perf_counter()
    length = environ.get("CONTENT_LENGTH") or ""
    if "HTTP_TRANSFER_ENCODING" in environ or not length.isdigit():
        return None
    size = int(length)
    if size > SHORTCUT_MAX_BODY:
        return None
    body = environ["wsgi.input"].read(size)
    try:
        answer = shortcut(environ, body)
    except Exception:
        # It reads nothing but memory, so this is a bug: say so, and let the lane answer.
        log.exception("the %s shortcut failed; the request takes its lane", rule)
        answer = None
    if answer is None:
        environ["wsgi.input"] = io.BytesIO(body)
        return None
    status, headers, data = answer
    headers.append(("Content-Length", str(len(data))))
    start_response(f"{status} {HTTP_STATUS_CODES.get(status, '')}", headers)
    metrics.count_request(rule, environ["REQUEST_METHOD"], status, started)
    return [data]


def _body_fits(environ: dict[str, Any]) -> bool:
    """No body, or one whose declared length the app would read (not chunked, not too big)."""
    if "HTTP_TRANSFER_ENCODING" in environ:
        return False
    length = environ.get("CONTENT_LENGTH") or "0"
    return length.isdigit() and int(length) <= edge.MAX_BODY


def _error_response(exc: Exception, request: Request) -> Response:
    """The app's answer to an exception: its HTTP error, 503 for a store outage, else 500."""
    if isinstance(exc, HTTPException):
        return edge.http_error(exc)
    outage = outages.as_outage(exc)
    if outage is not None:
        outages.log_outage(exc, outage, request.method, request.path)
        return outages.unavailable_json(outage)
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error on %s %s (incident %s)", request.method, request.path, incident)
    return edge.server_error(incident)
