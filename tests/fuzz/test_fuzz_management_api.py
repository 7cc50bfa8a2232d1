"""Fuzz the management API: manage tokens (live, foreign, broken), ids, cursors, bodies, methods."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import Request, World
from tests.fuzz.strategies import (
    FLAG,
    JSON_CONTENT_TYPES,
    SMALL,
    Draw,
    choose,
    header_text,
    json_body,
    near,
    path_segment,
    query_string,
)

ROUTES = [
    ("GET", "/api/v1/bots"),
    ("POST", "/api/v1/bots"),
    ("GET", "/api/v1/bots/{bot}"),
    ("PATCH", "/api/v1/bots/{bot}"),
    ("DELETE", "/api/v1/bots/{bot}"),
    ("GET", "/api/v1/bots/{bot}/members"),
    ("PUT", "/api/v1/bots/{bot}/members/{user}"),
    ("DELETE", "/api/v1/bots/{bot}/members/{user}"),
    ("GET", "/api/v1/users/{user}/sessions"),
    ("DELETE", "/api/v1/users/{user}/sessions"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/openapi.json"),
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
BOT_FIELDS = {
    "name": "Fuzzed bot",
    "greeting": "Hello!",
    "access": "members",
    "require_mfa": False,
    "faq": [{"question": "How do I pay?", "answer": "With a card."}],
}
QUERY_NAMES = ["limit", "cursor", "type", "since", "partner_user", "partner_user_id", "client_id"]
QUERY_VALUES = [
    "1",
    "50",
    "100",
    "0",
    "101",
    "code_issued",
    "code_issued,exchange_denied",
    "2026-01-01T00:00:00Z",
    "2026-13-45T99:99:99",
    "eyJ9",
    "W10",
    "WyJ4Il0",
    "carol",
]


def manage_auth(draw: Draw, world: World) -> tuple[list[tuple[str, str]], bool]:
    """Authorization: the live manage token, a near miss, a chat token, Basic, or none."""
    kind = choose(draw, ["manage", "manage", "manage", "manage", "chat", "basic", "junk", "none"])
    if kind == "manage":
        token, ok = near(draw, [world.manage_token()], p_valid=8)
        scheme = choose(draw, ["Bearer", "Bearer", "Bearer", "bearer", "DPoP", "Token"])
        value = f"{scheme} {token}" if isinstance(token, str) else "Bearer"
        return [("Authorization", value)], ok and scheme.lower() == "bearer"
    if kind == "chat":
        return [("Authorization", f"Bearer {world.chat_session('bearer').access_token}")], False
    if kind == "basic":
        return [("Authorization", world.basic_manage())], False
    if kind == "junk":
        return [("Authorization", draw(header_text))], False
    return [], False


@given(data=st.data())
def test_management_api_never_fails_open(world: World, data: st.DataObject) -> None:
    """Every /api/v1 route and method; another customer's ids never answer with their data."""
    draw = data.draw
    route_method, template = choose(draw, ROUTES)
    method = route_method if draw(SMALL) else choose(draw, METHODS)
    ids_ok = True
    path = template
    if "{bot}" in template:
        if draw(SMALL) == 0:  # the chat customer's bot: always 404 for this token
            segment, ids_ok = world.bots["billing"], False
        else:
            segment, ids_ok = path_segment(draw, list(world.manage_bots.values()))
        path = path.replace("{bot}", segment)
    if "{user}" in template:
        segment, _ = path_segment(draw, ["carol", "dave", "alice"])
        path = path.replace("{user}", segment)
    headers, auth_ok = manage_auth(draw, world)
    query = ""
    if method == "GET" and draw(FLAG):
        query = query_string(draw, QUERY_NAMES, QUERY_VALUES)
    body = b""
    if method in ("POST", "PATCH", "PUT") and draw(SMALL) < 8:
        near_valid = dict(BOT_FIELDS)
        if method == "PATCH":
            near_valid = {k: v for k, v in near_valid.items() if draw(FLAG)}
        body, _ = json_body(draw, near_valid)
        headers.append(("Content-Type", choose(draw, JSON_CONTENT_TYPES)))
    if draw(SMALL) == 0:
        headers.append(
            (choose(draw, ["X-Forwarded-For", "Origin", "Cookie", "Host"]), (draw(header_text)))
        )
    public = template == "/api/v1/openapi.json"
    response = world.send(
        Request(
            method,
            path,
            query=query,
            headers=headers,
            body=body,
            success_possible=(auth_ok or public) and ids_ok and _routed(method, template),
            endpoint=f"api: {route_method} {template}",
        )
    )
    if (
        method == "DELETE"
        and template == "/api/v1/bots/{bot}"
        and response.status_code < 300
        and path.rsplit("/", 1)[1] in world.manage_bots.values()
    ):
        world.replace_manage_bot(path.rsplit("/", 1)[1])


def _routed(method: str, template: str) -> bool:
    """Whether ``method`` on ``template`` is a route (HEAD answers wherever GET does)."""
    return (method, template) in ROUTES or (method == "HEAD" and ("GET", template) in ROUTES)
