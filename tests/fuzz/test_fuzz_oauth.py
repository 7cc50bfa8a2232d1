"""Fuzz the token, revocation and introspection endpoints: every grant, every client auth."""

from __future__ import annotations

import secrets
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from authserver.security import b64url_sha256
from tests.embed import ASSERTION_TYPE, JWT_TYPE, PARTNER_USER_ID, TOKEN_EXCHANGE
from tests.fuzz.conftest import ORIGIN, Request, World
from tests.fuzz.strategies import (
    FLAG,
    FORM_CONTENT_TYPES,
    IGNORED_NAMES,
    SMALL,
    Draw,
    basic_auth,
    choose,
    dpop_proof,
    form_body,
    form_mutations,
    header_text,
    junk_text,
    jwt_variant,
    near,
)

EMBED_CODE = "urn:chatframe:token-type:embed-code"
Pairs = list[tuple[str, str | bytes]]
Headers = list[tuple[str, str]]


def client_auth(
    draw: Draw, world: World, *, public: bool = False
) -> tuple[Headers, Pairs, bool, str]:
    """(headers, form pairs, authenticated correctly, which client) for one way to authenticate."""
    how = choose(draw, ["basic", "basic", "post", "jwt", "none"])
    if how == "basic":
        value, ok = basic_auth(draw, world.client_id, world.client_secret)
        return ([("Authorization", value)] if value else []), [], ok, world.client_id
    if how == "post":
        cid, cid_ok = near(draw, [world.client_id])
        secret, secret_ok = near(draw, [world.client_secret])
        pairs: Pairs = [("client_id", cid), ("client_secret", secret)]
        return [], pairs, cid_ok and secret_ok, world.client_id
    if how == "jwt":
        now = int(time.time())
        claims = {
            "iss": world.jwt_client_id,
            "sub": world.jwt_client_id,
            "aud": choose(draw, [world.issuer, f"{world.issuer}/oauth/token"]),
            "exp": now + 120,
            "iat": now,
            "jti": secrets.token_urlsafe(12),
        }
        assertion, ok = jwt_variant(
            draw, {"alg": "ES256"}, claims, world.jwt_client_key, optional=("iat",)
        )
        kind, kind_ok = near(draw, [ASSERTION_TYPE], p_valid=6)
        pairs = [("client_assertion", assertion), ("client_assertion_type", kind)]
        if draw(FLAG):
            cid, cid_ok = near(draw, [world.jwt_client_id])
            pairs.append(("client_id", cid))
            ok = ok and (cid_ok or cid == "")  # optional here: empty counts as omitted
        return [], pairs, ok and kind_ok, world.jwt_client_id
    if public:
        cid, ok = near(draw, [world.client_id])
        return [], [("client_id", cid)], ok, world.client_id
    return [], [], False, ""


def token_request(draw: Draw, pairs: Pairs, headers: Headers, ok: bool, label: str) -> Request:
    """POST the form (sometimes with another method, content type or an odd header)."""
    # A code redemption and a refresh take no scope: an extra one is ignored (RFC 6749 §3.2).
    takes_no_scope = label in ("token: authorization_code", "token: refresh_token")
    pairs, untouched = form_mutations(draw, pairs, IGNORED_NAMES + ("scope",) * takes_no_scope)
    content_type = choose(draw, FORM_CONTENT_TYPES)
    if content_type:
        headers = [*headers, ("Content-Type", content_type)]
    if draw(SMALL) == 0:
        headers = [*headers, (choose(draw, ["Origin", "DPoP", "X", "Host"]), draw(header_text))]
    method = choose(draw, ["POST"] * 12 + ["GET", "PUT", "DELETE", "PATCH"])
    return Request(
        method,
        f"/oauth/{label.split(':')[0]}",
        headers=headers,
        body=form_body(pairs),
        success_possible=(
            ok
            and untouched
            and content_type.startswith("application/x-www-form-urlencoded")
            and method == "POST"
        ),
        endpoint=label,
    )


@given(data=st.data())
def test_token_exchange_never_fails_open(world: World, data: st.DataObject) -> None:
    """Token exchange with near-valid clients, users, bots, origins, PKCE and subject JWTs."""
    draw = data.draw
    headers, pairs, ok, client = client_auth(draw, world)
    grant, grant_ok = near(draw, [TOKEN_EXCHANGE], p_valid=6)
    if client == world.jwt_client_id and draw(FLAG):
        now = int(time.time())
        claims = {
            "iss": world.jwt_client_id,
            "sub": "alice",
            "aud": world.issuer,
            "exp": now + 120,
            "jti": secrets.token_urlsafe(12),
            "name": draw(junk_text),
        }
        subject, _ = jwt_variant(draw, {"alg": "ES256"}, claims, world.jwt_client_key)
        subject_type, type_ok = near(draw, [JWT_TYPE], p_valid=4)
    else:
        subject, _ = near(draw, ["alice", "bob", "carol"])
        subject_type, type_ok = near(draw, [PARTNER_USER_ID], p_valid=4)
    welcome, billing = world.bots["welcome"], world.bots["billing"]
    if draw(SMALL) == 0:  # another customer's bot, or no bot at all: never a code
        scope: str | bytes = choose(
            draw, [*(f"bot:{b}" for b in world.manage_bots.values()), "chat", "manage", ""]
        )
        scope_ok = False
    else:
        scope, scope_ok = near(
            draw, [f"chat bot:{welcome}", f"bot:{welcome}", f"bot:{welcome} bot:{billing}"]
        )
    origin, origin_ok = near(draw, [ORIGIN])
    verifier = secrets.token_urlsafe(48)
    challenge, _ = near(draw, [b64url_sha256(verifier)])
    method, method_ok = near(draw, ["S256"], p_valid=4)
    pairs += [
        ("grant_type", grant),
        ("subject_token", subject),
        ("subject_token_type", subject_type),
        ("scope", scope),
        ("origin", origin),
        ("code_challenge", challenge),
        ("code_challenge_method", method),
    ]
    for name, valid in [
        ("dpop_jkt", world.jwt_client_key.thumbprint()),
        ("nonce", "n-0S6_WzA2Mj"),
        ("requested_token_type", EMBED_CODE),
    ]:
        if draw(FLAG):
            pairs.append((name, near(draw, [valid])[0]))
    ok = ok and grant_ok and type_ok and scope_ok and origin_ok and method_ok
    world.send(token_request(draw, pairs, headers, ok, "token: token exchange"))


@given(data=st.data())
def test_code_redemption_never_fails_open(world: World, data: st.DataObject) -> None:
    """Code redemption with real, replayed, mutated and junk codes, verifiers and DPoP proofs."""
    draw = data.draw
    key = world.spare_key() if draw(FLAG) else None
    verifier = secrets.token_urlsafe(48)
    real = draw(SMALL) < 6
    code = world.code(dpop_key=key, verifier=verifier) if real else "cfc_" + "A" * 43
    code_value, code_ok = near(draw, [code], p_valid=4)
    verifier_value, verifier_ok = near(draw, [verifier], p_valid=4)
    client_value, client_ok = near(draw, [world.client_id], p_valid=4)
    origin, origin_ok = near(draw, [ORIGIN], p_valid=4)
    grant, grant_ok = near(draw, ["authorization_code"], p_valid=6)
    proof, proof_ok = dpop_proof(draw, key, "POST", f"{world.issuer}/oauth/token")
    headers = [("DPoP", proof)] if proof is not None else []
    if key is None and proof is None:
        proof_ok = True
    pairs: Pairs = [
        ("grant_type", grant),
        ("code", code_value),
        ("code_verifier", verifier_value),
        ("client_id", client_value),
        ("origin", origin),
    ]
    ok = real and code_ok and verifier_ok and client_ok and origin_ok and grant_ok and proof_ok
    world.send(token_request(draw, pairs, headers, ok, "token: authorization_code"))


@given(data=st.data())
def test_refresh_and_client_credentials_never_fail_open(world: World, data: st.DataObject) -> None:
    """Refresh with live, rotated and junk refresh tokens; client_credentials with any auth."""
    draw = data.draw
    if draw(FLAG):
        session = world.chat_session("refresh")
        proof, proof_ok = dpop_proof(draw, session.key, "POST", f"{world.issuer}/oauth/token")
        token, _ = near(draw, [session.refresh_token, session.access_token], p_valid=3)
        client_value, client_ok = near(draw, [world.client_id], p_valid=4)
        grant, grant_ok = near(draw, ["refresh_token"], p_valid=6)
        pairs: Pairs = [
            ("grant_type", grant),
            ("refresh_token", token),
            ("client_id", client_value),
        ]
        headers = [("DPoP", proof)] if proof is not None else []
        ok = token == session.refresh_token and proof_ok and client_ok and grant_ok
        request = token_request(draw, pairs, headers, ok, "token: refresh_token")
        response = world.send(request)
        if response.status_code == 200:
            session.refresh_token = response.get_json()["refresh_token"]
            world.never_echo.append(session.refresh_token)
        elif request.success_possible:
            # Only a rotated token's reuse ends a session (a refused near miss leaves it
            # live): a correct request refused means it ended, so mint one for the next.
            world.forget_session("refresh")
        return
    headers, pairs, ok, _ = client_auth(draw, world)
    if ok and draw(FLAG):
        headers = [("Authorization", world.basic_manage())]
        pairs = []
    grant, grant_ok = near(draw, ["client_credentials"], p_valid=6)
    scope, scope_ok = near(draw, ["manage"], p_valid=4)
    pairs += [("grant_type", grant), ("scope", scope)]
    label = "token: client_credentials"
    world.send(token_request(draw, pairs, headers, ok and grant_ok and scope_ok, label))


@given(data=st.data())
def test_revocation_and_introspection_never_fail_open(world: World, data: st.DataObject) -> None:
    """Revoke and introspect live, foreign and junk tokens, with every kind of client auth."""
    draw = data.draw
    endpoint = choose(draw, ["revoke", "introspect"])
    if endpoint == "revoke":
        # Revoking the chat fuzzing's own session would starve it: revoke a spare one.
        spare = world.chat_session("revocable")
        candidates = [spare.refresh_token, spare.access_token, world.manage_token()]
    else:
        chat = world.chat_session("dpop")
        candidates = [chat.access_token, chat.refresh_token, world.manage_token()]
    headers, pairs, auth_ok, _ = client_auth(draw, world, public=endpoint == "revoke")
    token, token_ok = near(draw, candidates, p_valid=3)
    pairs.append(("token", token))
    if draw(FLAG):
        pairs.append(("token_type_hint", near(draw, ["refresh_token", "access_token"])[0]))
    request = token_request(draw, pairs, headers, True, endpoint)
    if endpoint == "introspect":
        # An authenticated client may be told {"active": false} about anything; no one else.
        request.success_possible = auth_ok and request.method == "POST"
    else:
        # RFC 7009: revoking an unknown or malformed token still answers 200.
        request.success_possible = request.method == "POST"
    response = world.send(request)
    if endpoint == "revoke" and response.status_code == 200 and token in candidates[:2]:
        world.forget_session("revocable")  # the spare session ended: the next example mints one
    if endpoint == "introspect" and response.status_code == 200 and not token_ok:
        body: Any = response.get_json()
        assert body.get("active") is False, body
