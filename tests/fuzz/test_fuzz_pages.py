"""Fuzz the public surface: discovery, JWKS, embed page and status, SDK, static files, console."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import ORIGIN, Request, World
from tests.fuzz.strategies import (
    FORM_CONTENT_TYPES,
    SMALL,
    choose,
    form_body,
    header_text,
    junk_text,
    near,
    path_segment,
    query_string,
)

PUBLIC = [
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/oauth/jwks",
    "/embed/{client}",
    "/embed/{client}/status",
    "/sdk/v1/{file}",
    "/embed-static/{file}",
    "/console/sign-in",
    "/console/sign-up",
    "/console/sign-in/code",
    "/console/static/{file}",
    "/static/{file}",
    "/{junk}",
    "/console/{junk}",
    "/oauth/{junk}",
    "/api/v1/{junk}",
    "/chat/api/{junk}",
]
# Signed-in pages: without a session they must never answer 2xx.
PROTECTED = [
    "/console/",
    "/console/account",
    "/console/account/two-factor",
    "/console/bots",
    "/console/bots/new",
    "/console/clients",
    "/console/clients/new",
    "/console/events",
    "/console/events.csv",
    "/console/install",
    "/console/sessions",
    "/console/team",
    "/console/bots/{bot}",
    "/console/bots/{bot}/members",
    "/console/clients/{client}",
    "/console/sign-out",
    "/console/sessions/revoke-all",
]
FILES = [
    "chatframe.js",
    "protocol.js",
    "chatframe.d.ts",
    "index.html",
    "main.js",
    "chat.css",
    "../../pyproject.toml",
    "..%2f..%2fpyproject.toml",
    "%00",
    ".",
    "console.css",
]
METHODS = ["GET"] * 8 + ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
HEADERS = ["Host", "Origin", "Cookie", "Accept", "Accept-Encoding", "If-None-Match", "Range"]
FORM_FIELDS = ["email", "password", "company", "code", "csrf_token", "next", "remember"]


@given(data=st.data())
def test_public_pages_never_fail(world: World, data: st.DataObject) -> None:
    """Public and signed-in-only pages with junk ids, methods, queries, headers and forms."""
    draw = data.draw
    protected = draw(SMALL) < 3
    template = choose(draw, PROTECTED if protected else PUBLIC)
    path = template
    if "{client}" in path:
        path = path.replace("{client}", path_segment(draw, [world.client_id])[0])
    if "{bot}" in path:
        path = path.replace("{bot}", path_segment(draw, list(world.bots.values()))[0])
    if "{file}" in path:
        path = path.replace("{file}", path_segment(draw, FILES)[0])
    if "{junk}" in path:
        path = path.replace("{junk}", path_segment(draw, ["x", "", "%ff", "a/b"])[0])
    method = choose(draw, METHODS)
    headers: list[tuple[str, str]] = []
    for _ in range(draw(SMALL) % 3):
        name = choose(draw, HEADERS)
        value = near(draw, [ORIGIN, "localhost", "session=x", "text/html"])[0]
        safe = isinstance(value, str) and value == value.strip("\r\n") and "\n" not in value
        if not safe or not all(ord(c) < 256 for c in str(value)):
            value = draw(header_text)  # what could never travel as an HTTP header value
        headers.append((name, str(value)))
    if "Origin" not in dict(headers) and "/status" in path:
        headers.append(("Origin", str(near(draw, [ORIGIN])[0]) if draw(SMALL) else ORIGIN))
    query = query_string(draw, ["next", "client_id", "v", "origin"], ["/console/", "//evil", ""])
    body = b""
    if method in ("POST", "PUT", "PATCH"):
        pairs = [(choose(draw, FORM_FIELDS), draw(junk_text)) for _ in range(draw(SMALL) % 4)]
        body = form_body(pairs)
        headers.append(("Content-Type", choose(draw, FORM_CONTENT_TYPES)))
    header_names = [h[0].lower() for h in headers]
    world.send(
        Request(
            method,
            path,
            query=query,
            headers=headers,
            body=body,
            # No session cookie of ours is ever sent: a signed-in page is never served.
            success_possible=not protected or "cookie" in header_names,
            endpoint="pages: console (signed out)" if protected else f"pages: {template}",
        )
    )
