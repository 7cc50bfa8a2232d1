"""Fuzz the chat API: live and broken DPoP/Bearer tokens and proofs, ids, queries, bodies."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import ChatSession, Request, World
from tests.fuzz.strategies import (
    FLAG,
    JSON_CONTENT_TYPES,
    SMALL,
    Draw,
    choose,
    dpop_proof,
    header_text,
    json_body,
    near,
    path_segment,
    query_string,
)

ROUTES = [
    ("GET", "/chat/api/bots/{bot}"),
    ("GET", "/chat/api/bots/{bot}/conversations"),
    ("POST", "/chat/api/bots/{bot}/conversations"),
    ("GET", "/chat/api/conversations/{cnv}/messages"),
    ("POST", "/chat/api/conversations/{cnv}/messages"),
]
OTHER_METHODS = ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
QUESTIONS = ["How do I pay?", "hello", "How do I update my card?"]


def authorization(
    draw: Draw, world: World, session: ChatSession, method: str, path: str
) -> tuple[list[tuple[str, str]], bool]:
    """Authorization (+ DPoP) headers: the session's own, a near miss, or junk."""
    kind = choose(draw, ["dpop", "dpop", "dpop", "bearer", "manage", "junk", "none"])
    url = world.issuer + unquote(path)
    if kind == "dpop":
        token, token_ok = near(draw, [session.access_token], p_valid=6)
        scheme = choose(draw, ["DPoP", "DPoP", "DPoP", "dpop", "Bearer", "DPoP  ", "Basic"])
        proof, proof_ok = dpop_proof(draw, session.key, method, url, session.access_token)
        headers = [("Authorization", f"{scheme} {token!s}" if isinstance(token, str) else "")]
        if proof is not None:
            headers.append(("DPoP", proof))
        if draw(SMALL) == 0 and proof is not None:
            headers.append(("DPoP", proof))  # two proofs
            proof_ok = False
        return headers, token_ok and proof_ok and scheme.strip().lower() == "dpop"
    if kind == "bearer":
        bearer = world.chat_session("bearer")
        token, token_ok = near(draw, [bearer.access_token], p_valid=6)
        scheme = choose(draw, ["Bearer", "Bearer", "bearer", "DPoP"])
        value = f"{scheme} {token}" if isinstance(token, str) else "Bearer"
        return [("Authorization", value)], token_ok and scheme.lower() == "bearer"
    if kind == "manage":
        return [("Authorization", f"Bearer {world.manage_token()}")], False
    if kind == "junk":
        return [("Authorization", draw(header_text))], False
    return [], False


@given(data=st.data())
def test_chat_api_never_fails_open(world: World, data: st.DataObject) -> None:
    """Every chat route and method with live, mutated and foreign tokens, ids and bodies."""
    draw = data.draw
    session = world.chat_session("dpop")
    route_method, template = choose(draw, ROUTES)
    method = route_method if draw(SMALL) else choose(draw, OTHER_METHODS)
    bot_ok = cnv_ok = True
    path = template
    if "{bot}" in template:
        if draw(SMALL) == 0:  # another customer's bot: always refused
            segment, bot_ok = world.manage_bots["managed"], False
        else:
            segment, bot_ok = path_segment(draw, [world.bots["welcome"], world.bots["billing"]])
        path = template.replace("{bot}", segment)
    if "{cnv}" in template:
        segment, cnv_ok = path_segment(draw, [session.conversation_id, "cnv_" + "A" * 22])
        cnv_ok = cnv_ok and segment == session.conversation_id
        path = template.replace("{cnv}", segment)
    headers, auth_ok = authorization(draw, world, session, method, path)
    query = ""
    if method == "GET" and draw(FLAG):
        query = query_string(
            draw, ["limit", "before"], ["1", "100", "0", "101", "-1", session.conversation_id]
        )
    body = b""
    if method == "POST" and draw(FLAG):
        body, _ = json_body(draw, {"text": choose(draw, QUESTIONS)})
        headers.append(("Content-Type", choose(draw, JSON_CONTENT_TYPES)))
    if draw(SMALL) == 0:
        headers.append(
            (choose(draw, ["Origin", "Cookie", "X-Forwarded-For", "Host"]), (draw(header_text)))
        )
    world.send(
        Request(
            method,
            path,
            query=query,
            headers=headers,
            body=body,
            success_possible=auth_ok and bot_ok and cnv_ok and _routed(method, template),
            endpoint=f"chat: {route_method} {template}",
        )
    )


def _routed(method: str, template: str) -> bool:
    """Whether ``method`` on ``template`` is a route (HEAD answers wherever GET does)."""
    return (method, template) in ROUTES or (method == "HEAD" and ("GET", template) in ROUTES)
