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

A shortcut goes further, for a request shape so common that a lane's werkzeug request and
response cost a good part of its work. It sees the raw environ and the body, and answers or
declines; whatever it declines goes down the lane as if it had never looked, so it declines
only before it has changed anything. There are two:

- a plain, granted ``client_credentials`` request (``authserver.views.oauth.
  plain_client_credentials``), answered from memory alone (no database, no Redis);
- the chat API's ``GET /chat/api/bots/<id>`` with a DPoP token and nothing unusual
  (``chatapp.api.bot_answer_shortcut``): the same token check as the lane, which records the
  proof's ``jti``, so once the check has started it answers everything itself, refusals,
  outages and errors included, with the lane's own status, headers and body.

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
# A shortcut: the environ, the request body and the path's parameters in; (status, headers,
# body) out, or None to decline (the request then takes its lane). It must not read the
# environ's wsgi.input, and must not decline once it has changed anything.
Answer = tuple[int, list[tuple[str, str]], bytes]
Shortcut = Callable[..., Answer | None]
SHORTCUT_MAX_BODY = 1024  # bytes: a shortcut's requests are small; anything larger takes the lane


class LaneRequest(Request):
    """A werkzeug request with the app's body limit (``edge.MAX_BODY``, 413 beyond)."""

    max_content_length = edge.MAX_BODY


@dataclass(frozen=True)
class Lane:
    path: re.Pattern[str]
    rule: str  # the Flask rule of the same endpoint: the metrics label
    handler: Handler
    shortcut: Shortcut | None = None  # offered the request first (see the module's docstring)


class FastLane:
    """WSGI middleware in front of the Flask app's ``wsgi_app`` for the registered lanes."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self._lanes: dict[str, list[Lane]] = {}

    def add(
        self, method: str, path: str, rule: str, handler: Handler, shortcut: Shortcut | None = None
    ) -> None:
        """Serve ``method`` requests whose PATH_INFO fully matches the regex ``path``, the
        path's named groups as keyword arguments; a ``shortcut`` is offered each one first."""
        self._lanes.setdefault(method, []).append(Lane(re.compile(path), rule, handler, shortcut))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        lanes = self._lanes.get(environ.get("REQUEST_METHOD", ""))
        if lanes:
            path = environ.get("PATH_INFO", "")
            for lane in lanes:
                match = lane.path.fullmatch(path)
                if match is not None:
                    params = match.groupdict()
                    if lane.shortcut is not None:
                        answered = _shortcut(lane, params, environ, start_response)
                        if answered is not None:
                            return answered
                    response = self._serve(lane, environ, params)
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
    lane: Lane, params: dict[str, str], environ: dict[str, Any], start_response: StartResponse
) -> Iterable[bytes] | None:
    """The lane's shortcut's answer, or None with the environ as it was (its body put back)."""
    assert lane.shortcut is not None
    started = time.perf_counter()
    length = environ.get("CONTENT_LENGTH") or "0"
    if "HTTP_TRANSFER_ENCODING" in environ or not length.isdigit():
        return None
    size = int(length)
    if size > SHORTCUT_MAX_BODY:
        return None
    body = environ["wsgi.input"].read(size) if size else b""
    try:
        answer = lane.shortcut(environ, body, **params)
    except Exception:
        # A shortcut answers its own errors once it has changed anything, so this one raised
        # before it did: a bug. Say so, and let the lane answer.
        log.exception("the %s shortcut failed; the request takes its lane", lane.rule)
        answer = None
    if answer is None:
        if size:
            environ["wsgi.input"] = io.BytesIO(body)
        return None
    status, headers, data = answer
    headers.append(("Content-Length", str(len(data))))
    start_response(f"{status} {HTTP_STATUS_CODES.get(status, '')}", headers)
    metrics.count_request(lane.rule, environ["REQUEST_METHOD"], status, started)
    return [data]


def _body_fits(environ: dict[str, Any]) -> bool:
    """No body, or one whose declared length the app would read (not chunked, not too big)."""
    if "HTTP_TRANSFER_ENCODING" in environ:
        return False
    length = environ.get("CONTENT_LENGTH") or "0"
    return length.isdigit() and int(length) <= edge.MAX_BODY


def json_answer(
    app: Flask, status: int, data: dict[str, Any], headers: Iterable[tuple[str, str]] = ()
) -> Answer:
    """A shortcut's JSON answer, as the lane would send it: ``jsonify``'s body, then
    ``headers``, ``Cache-Control: no-store`` and the security headers."""
    compact = getattr(app.json, "compact", None)
    pretty = (compact is None and app.debug) or compact is False  # as jsonify decides
    layout: dict[str, Any] = {"indent": 2} if pretty else {"separators": (",", ":")}
    body = app.json.dumps(data, **layout) + "\n"
    return (
        status,
        [
            ("Content-Type", "application/json"),
            *headers,
            ("Cache-Control", "no-store"),
            *edge.SECURITY_HEADER_PAIRS,
        ],
        body.encode(),
    )


def answer_of(response: Response) -> Answer:
    """A response built by the lane's own functions, as a shortcut's answer."""
    edge.add_security_headers(response)
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
    return response.status_code, headers, response.get_data()


def error_answer(exc: Exception, environ: dict[str, Any]) -> Answer:
    """A lane's answer to an exception (503 for a store outage, else 500), for a shortcut
    that has changed something and so can no longer hand the request on. In an app context."""
    return answer_of(_error_response(exc, LaneRequest(environ)))


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
