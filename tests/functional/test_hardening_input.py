"""Input an attacker (or a careless client) sends that must be refused with a clear 4xx, never
accepted and never answered with a 500: non-finite numbers, future JWTs, broken URLs and keys,
deep or invalid JSON, NUL bytes, non-UTF-8 credentials, Unicode in errors and headers, a
foreign Host header and races on first sight of a partner user (issue 8)."""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from joserfc import jws
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import func, select

from authserver.oauth.client_auth import unverified_claims
from tests.conftest import ORIGIN, Tenant, assert_refused, free_port
from tests.embed import (
    ASSERTION_TYPE,
    JWT_TYPE,
    PARTNER_USER_ID,
    TOKEN_EXCHANGE,
    Backend,
    Iframe,
)
from tests.functional.conftest import management_api
from tests.processes import Seed, clean_env, cli, seed, start, wait_until_up

NAN = float("nan")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(key: ECKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWS over ``claims`` written as Python's json writes them: NaN stays ``NaN``."""
    return jws.serialize_compact(header, json.dumps(claims).encode(), key)


def nested_payload_token(key: ECKey, header: dict[str, Any], depth: int = 2000) -> str:
    """A compact JWS, validly signed, whose payload is JSON nested ``depth`` levels deep."""
    payload = b'{"x":' + b"[" * depth + b"]" * depth + b"}"
    return jws.serialize_compact(header, payload, key)


def proof(iframe: Iframe, url: str, *, method: str = "POST", **claims: Any) -> str:
    """A DPoP proof signed by the iframe's key with ``claims`` over the usual ones."""
    body = {"htm": method, "htu": url, "iat": int(time.time()), "jti": secrets.token_urlsafe(16)}
    body.update(claims)
    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": iframe.key.as_dict(private=False)}
    return signed(iframe.key, header, body)


def chat_headers(iframe: Iframe, method: str, url: str, **claims: Any) -> dict[str, str]:
    from authserver.security import b64url_sha256

    token = iframe.tokens["access_token"]
    return {
        "Authorization": f"DPoP {token}",
        "DPoP": proof(iframe, url, method=method, ath=b64url_sha256(token), **claims),
    }


def redeem_with(tenant: Tenant, headers: dict[str, str]) -> requests.Response:
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])
    return iframe.redeem(code, headers=headers)


# -- 1. non-finite numbers in DPoP proofs ---------------------------------------------------


def test_dpop_proof_with_nan_iat_is_refused_at_redemption(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])
    response = iframe.redeem(code, headers={"DPoP": proof(iframe, iframe.token_url, iat=NAN)})
    assert_refused(response, 400, "invalid_dpop_proof")


def test_dpop_proof_with_nan_iat_is_refused_at_refresh(tenant: Tenant) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    response = iframe.refresh(headers={"DPoP": proof(iframe, iframe.token_url, iat=NAN)})
    assert_refused(response, 400, "invalid_dpop_proof")


def test_dpop_proof_with_nan_iat_is_refused_by_the_chat_api(tenant: Tenant) -> None:
    welcome = tenant.bots["welcome"]
    iframe = tenant.session("alice", [welcome])
    url = f"{tenant.server.url}/chat/api/bots/{welcome}"
    response = requests.get(url, headers=chat_headers(iframe, "GET", url, iat=NAN), timeout=30)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_dpop_proof"
    # the same request with an honest iat goes through: only the NaN was refused
    ok = requests.get(url, headers=chat_headers(iframe, "GET", url), timeout=30)
    assert ok.status_code == 200, ok.text


# -- 2 and 3. client JWTs: NaN exp, future nbf and iat ----------------------------------------


@pytest.fixture
def client_key(tenant: Tenant) -> ECKey:
    from authserver import registry

    key = ECKey.generate_key("P-256")
    with tenant.server.app.app_context():
        registry.set_client_jwks(
            registry.get_client(tenant.client_id), KeySet([key]).as_dict(private=False)
        )
    return key


def client_jwt(tenant: Tenant, key: ECKey, aud: str, **overrides: Any) -> str:
    claims: dict[str, Any] = {
        "iss": tenant.client_id,
        "sub": tenant.client_id,
        "aud": aud,
        "exp": int(time.time()) + 60,
        "jti": secrets.token_urlsafe(12),
    }
    claims.update(overrides)
    return signed(key, {"alg": "ES256"}, claims)


FUTURE = {
    "nan exp": {"exp": NAN},
    "future nbf": {"nbf": int(time.time()) + 3600},
    "future iat": {"iat": int(time.time()) + 3600},
    "string nbf": {"nbf": "now"},
}


@pytest.mark.parametrize("claims", FUTURE.values(), ids=FUTURE.keys())
def test_client_assertions_that_are_not_valid_now_are_refused(
    tenant: Tenant, client_key: ECKey, claims: dict[str, Any]
) -> None:
    assertion = client_jwt(tenant, client_key, f"{tenant.server.url}/oauth/token", **claims)
    auth = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    bots = [tenant.bots["welcome"]]
    response = tenant.backend.exchange(tenant.iframe(), "alice", bots, auth=auth)
    assert_refused(response, 401, "invalid_client")
    # and refused again: nothing about it was accepted the first time
    again = tenant.backend.exchange(tenant.iframe(), "alice", bots, auth=auth)
    assert_refused(again, 401, "invalid_client")


@pytest.mark.parametrize("claims", FUTURE.values(), ids=FUTURE.keys())
def test_subject_tokens_that_are_not_valid_now_are_refused(
    tenant: Tenant, client_key: ECKey, claims: dict[str, Any]
) -> None:
    token = client_jwt(tenant, client_key, tenant.server.url, sub="alice", **claims)
    response = tenant.backend.exchange(
        tenant.iframe(), token, [tenant.bots["welcome"]], subject_token_type=JWT_TYPE
    )
    assert_refused(response, 400, "invalid_request")


def test_client_jwts_valid_now_still_work(tenant: Tenant, client_key: ECKey) -> None:
    now = int(time.time())
    assertion = client_jwt(
        tenant, client_key, f"{tenant.server.url}/oauth/token", nbf=now - 5, iat=now
    )
    subject = client_jwt(tenant, client_key, tenant.server.url, sub="alice", nbf=now, iat=now)
    response = tenant.backend.exchange(
        tenant.iframe(),
        subject,
        [tenant.bots["welcome"]],
        subject_token_type=JWT_TYPE,
        auth={"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion},
    )
    assert response.status_code == 200, response.text


# -- 5. DPoP proofs with a broken htu or an unknown curve -----------------------------------


@pytest.mark.parametrize(
    "htu", ["http://127.0.0.1:99999/oauth/token", "http://[::1/oauth/token", "http://h:abc/"]
)
def test_dpop_htu_that_is_not_a_url_is_refused(tenant: Tenant, htu: str) -> None:
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])
    response = iframe.redeem(code, headers={"DPoP": proof(iframe, htu)})
    assert_refused(response, 400, "invalid_dpop_proof")


def test_dpop_htu_that_is_not_a_url_is_refused_by_the_chat_api(tenant: Tenant) -> None:
    welcome = tenant.bots["welcome"]
    iframe = tenant.session("alice", [welcome])
    url = f"{tenant.server.url}/chat/api/bots/{welcome}"
    headers = chat_headers(iframe, "GET", url, htu="http://127.0.0.1:99999/")
    response = requests.get(url, headers=headers, timeout=30)
    assert response.status_code == 401 and response.json()["error"] == "invalid_dpop_proof"


def test_dpop_jwk_with_an_unknown_curve_is_refused(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    jwk = {**iframe.key.as_dict(private=False), "crv": "P-999"}
    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": jwk}
    claims = {"htm": "POST", "htu": iframe.token_url, "iat": int(time.time()), "jti": "x" * 16}
    response = redeem_with(tenant, {"DPoP": signed(iframe.key, header, claims)})
    assert_refused(response, 400, "invalid_dpop_proof")


# -- 6. deep JSON and lone surrogates -------------------------------------------------------


def test_deeply_nested_jwt_payloads_are_refused_everywhere(
    tenant: Tenant, client_key: ECKey
) -> None:
    iframe = tenant.iframe()
    dpop_header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": iframe.key.as_dict(private=False)}
    deep_proof = nested_payload_token(iframe.key, dpop_header)
    assert_refused(redeem_with(tenant, {"DPoP": deep_proof}), 400, "invalid_dpop_proof")
    token = nested_payload_token(client_key, {"alg": "ES256"})
    auth = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": token}
    exchange = tenant.backend.exchange(tenant.iframe(), "alice", ["x"], auth=auth)
    assert_refused(exchange, 401, "invalid_client")
    subject = tenant.backend.exchange(
        tenant.iframe(), token, [tenant.bots["welcome"]], subject_token_type=JWT_TYPE
    )
    assert_refused(subject, 400, "invalid_request")
    access = nested_payload_token(client_key, {"alg": "ES256", "typ": "at+jwt"})
    chat = requests.get(
        f"{tenant.server.url}/chat/api/bots/{tenant.bots['welcome']}",
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
    )
    assert chat.status_code == 401 and chat.json()["error"] == "invalid_token"
    api = requests.get(
        f"{tenant.server.url}/api/v1/bots",
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
    )
    assert api.status_code == 401 and api.json()["error"] == "invalid_token"
    introspect = tenant.backend.introspect(access)
    assert introspect.status_code == 200 and introspect.json() == {"active": False}


def bad_json(field: str) -> dict[str, bytes]:
    """JSON bodies Chatframe must refuse, with ``field`` the one the endpoint reads."""
    key = b'{"' + field.encode() + b'": '
    deep = b"[" * 30000 + b"]" * 30000
    return {
        "deep": deep,
        "deep in an object": key + deep + b"}",
        "lone surrogate": key + b'"hi \\ud800"}',
        "NUL": key + b'"a\\u0000b"}',
        "NaN": key + b"NaN}",
    }


BAD_JSON_KINDS = list(bad_json("x"))


@pytest.mark.parametrize("kind", BAD_JSON_KINDS)
def test_bad_json_bodies_are_400_in_the_management_api(tenant: Tenant, kind: str) -> None:
    api = management_api(tenant)
    response = api.call(
        "POST",
        "/api/v1/bots",
        data=bad_json("name")[kind],
        headers={"Content-Type": "application/json"},
    )
    assert_refused(response, 400, "invalid_request")


@pytest.mark.parametrize("kind", BAD_JSON_KINDS)
def test_bad_json_bodies_are_400_in_the_chat_api(tenant: Tenant, kind: str) -> None:
    welcome = tenant.bots["welcome"]
    iframe = tenant.session("alice", [welcome])
    created = iframe.api("POST", f"/chat/api/bots/{welcome}/conversations", json={})
    url = f"{tenant.server.url}/chat/api/conversations/{created.json()['id']}/messages"
    headers = {**chat_headers(iframe, "POST", url), "Content-Type": "application/json"}
    response = requests.post(url, data=bad_json("text")[kind], headers=headers, timeout=30)
    assert_refused(response, 400, "invalid_request")


# -- 7 and 8. NUL bytes and Basic credentials that are not UTF-8 -----------------------------


def test_nul_in_basic_credentials_is_400_without_authentication(tenant: Tenant) -> None:
    response = requests.post(
        f"{tenant.server.url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "manage"},
        auth=("cf_%00", "x"),
        timeout=30,
    )
    assert "NUL" in assert_refused(response, 400, "invalid_request")["error_description"]


def test_nul_in_a_form_client_id_is_400(tenant: Tenant) -> None:
    response = requests.post(
        f"{tenant.server.url}/oauth/token",
        data={"grant_type": "refresh_token", "client_id": "cf_\x00", "refresh_token": "cfr_x"},
        timeout=30,
    )
    assert "NUL" in assert_refused(response, 400, "invalid_request")["error_description"]


def test_nul_in_the_embed_path_is_400(tenant: Tenant) -> None:
    response = requests.get(f"{tenant.server.url}/embed/cf_%00", timeout=30)
    assert_refused(response, 400, "invalid_request")


def test_nul_in_api_paths_and_queries_is_400(tenant: Tenant) -> None:
    api = management_api(tenant)
    billing = tenant.bots["billing"]
    for method, path in [
        ("DELETE", f"/api/v1/bots/{billing}/members/al%00ice"),
        ("GET", "/api/v1/bots?cursor=%00"),
        ("GET", f"/api/v1/bots/{billing}%00"),
    ]:
        assert_refused(api.call(method, path), 400, "invalid_request")


def test_basic_credentials_that_are_not_utf8_are_400(tenant: Tenant) -> None:
    response = requests.post(
        f"{tenant.server.url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "manage"},
        headers={"Authorization": "Basic //46/w=="},
        timeout=30,
    )
    assert "UTF-8" in assert_refused(response, 400, "invalid_request")["error_description"]


@pytest.mark.parametrize("header", ["Basic ", "basic \xa0", "Basic \t ", " "])
def test_basic_with_no_credentials_is_400_not_a_500(tenant: Tenant, header: str) -> None:
    # Through the app itself: a front server may strip the trailing blank before it arrives.
    http = tenant.server.app.test_client()
    for form in (
        {"grant_type": "client_credentials", "scope": "manage"},
        {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": "alice",
            "subject_token_type": PARTNER_USER_ID,
            "scope": f"bot:{tenant.bots['welcome']}",
            "origin": ORIGIN,
        },
    ):
        response = http.post("/oauth/token", data=form, headers={"Authorization": header})
        assert response.status_code == 400, response.get_data()
        payload = response.get_json()
        assert payload["error"] == "invalid_request", payload
        assert "no credentials" in payload["error_description"]
        assert "access_token" not in payload


# -- 9. error descriptions that quote Unicode or quotes; IDN origins -------------------------


def test_an_unregistered_idn_origin_is_explained_not_a_500(tenant: Tenant) -> None:
    response = tenant.backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], origin="http://exämple.com"
    )
    description = assert_refused(response, 400, "invalid_request")["error_description"]
    assert "http://ex%C3%A4mple.com is not registered" in description
    assert "http://xn--exmple-cua.com" in description  # what to register / send instead


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"origin": 'http://a"b.example'}, "invalid_request"),
        ({"origin": "http://a\\b.example"}, "invalid_request"),
        ({"scope": 'chat "quoted"'}, "invalid_scope"),
        ({"scope": "chat bötter"}, "invalid_scope"),
    ],
)
def test_quotes_and_unicode_in_echoed_input_are_escaped(
    tenant: Tenant, overrides: dict[str, str], error: str
) -> None:
    response = tenant.backend.exchange(tenant.iframe(), "alice", ["bot_x"], **overrides)
    description = assert_refused(response, 400, error)["error_description"]
    assert '"' not in description and "\\" not in description and description.isascii()


def test_an_idn_origin_is_registered_as_punycode_and_works(tenant: Tenant) -> None:
    from authserver import registry
    from authserver.extensions import db

    with tenant.server.app.app_context():
        client = registry.get_client(tenant.client_id)
        registry.update_client(client, origins=[ORIGIN, "http://exämple.com:5001"])
        assert client.allowed_origins == [ORIGIN, "http://xn--exmple-cua.com:5001"]
        db.session.remove()
    embed = requests.get(f"{tenant.server.url}/embed/{tenant.client_id}", timeout=30)
    assert "http://xn--exmple-cua.com:5001" in embed.headers["Content-Security-Policy"]
    # the browser reports the page's origin in punycode: that is what the backend passes on
    iframe = tenant.iframe(origin="http://xn--exmple-cua.com:5001")
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])
    assert iframe.redeem(code).status_code == 200


# -- 10. WWW-Authenticate never echoes request data ----------------------------------------


def test_chat_api_challenge_is_fixed_text_whatever_the_path(tenant: Tenant) -> None:
    welcome = tenant.bots["welcome"]
    iframe = tenant.session("alice", [welcome])
    url = f"{tenant.server.url}/chat/api/bots/%E2%98%83%F0%9F%98%80"
    # a proof for another URL: the body explains the htu it expected (with the decoded path)
    headers = chat_headers(iframe, "GET", f"{tenant.server.url}/chat/api/bots/{welcome}")
    response = requests.get(url, headers=headers, timeout=30)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_dpop_proof"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('DPoP error="invalid_dpop_proof", error_description="')
    assert "☃" not in challenge and "chat/api" not in challenge and challenge.isascii()


# -- 11. a Host header that is not loopback, over plain http --------------------------------


def test_a_foreign_host_header_does_not_break_the_oauth_endpoints(tenant: Tenant) -> None:
    host = {"Host": "chat.example.com"}
    issued = requests.post(
        f"{tenant.server.url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "manage"},
        auth=(tenant.client_id, tenant.client_secret),
        headers=host,
        timeout=30,
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    for endpoint in ("introspect", "revoke"):
        response = requests.post(
            f"{tenant.server.url}/oauth/{endpoint}",
            data={"token": token},
            auth=(tenant.client_id, tenant.client_secret),
            headers=host,
            timeout=30,
        )
        assert response.status_code == 200, response.text


def test_an_http_issuer_on_another_host_is_explained(tmp_path: Any) -> None:
    from flask_migrate import upgrade

    from authserver import create_app
    from authserver.config import Settings

    app = create_app(
        Settings(
            issuer="http://chat.example.com",
            database_url=f"sqlite:///{tmp_path}/i.db",
            keys_dir=tmp_path / "keys",
        ),
        ensure_keys=False,
    )
    with app.app_context():
        upgrade()
    client = app.test_client()
    for endpoint in ("token", "revoke", "introspect"):
        response = client.post(
            f"/oauth/{endpoint}",
            data={"grant_type": "client_credentials", "token": "x"},
            base_url="http://chat.example.com",
        )
        assert response.status_code == 400, response.text
        assert response.json["error"] == "invalid_request"
        assert "CHATFRAME_ISSUER" in response.json["error_description"]


# -- 12. first sight of a partner user, many times at once ----------------------------------


def _partner_users(tenant: Tenant, partner_user_id: str) -> tuple[int, int]:
    from authserver.extensions import db
    from authserver.models import Membership, PartnerUser

    with tenant.server.app.app_context():
        users = db.session.execute(
            select(PartnerUser.id).where(
                PartnerUser.customer_id == tenant.customer_id,
                PartnerUser.partner_user_id == partner_user_id,
            )
        ).scalars()
        ids = list(users)
        memberships = db.session.execute(
            select(func.count()).select_from(Membership).where(Membership.partner_user_pk.in_(ids))
        ).scalar_one()
        db.session.remove()
    return len(ids), memberships


def _at_once(count: int, call: Any) -> list[requests.Response]:
    start = threading.Barrier(count)

    def run(_: int) -> requests.Response:
        start.wait()
        return call()  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_parallel_first_exchanges_for_one_new_user_all_succeed(tenant: Tenant) -> None:
    for _ in range(3):
        user = f"new-{secrets.token_hex(4)}"
        responses = _at_once(
            12,
            lambda user=user: tenant.backend.exchange(
                tenant.iframe(), user, [tenant.bots["welcome"]]
            ),
        )
        assert [r.status_code for r in responses] == [200] * 12, [r.text for r in responses]
        assert _partner_users(tenant, user) == (1, 0)
        # Every code's event names the one user that exists (a request that lost the race
        # to create them uses the winner's id, never its own).
        with tenant.server.app.app_context():
            pk = _user_pk(tenant, user)
        issued = [e for e in tenant.events("code_issued") if e["partner_user"] == pk]
        assert len(issued) == 12


def _user_pk(tenant: Tenant, partner_user_id: str) -> str:
    from authserver.access import find_partner_user
    from authserver.extensions import db

    found = find_partner_user(tenant.customer_id, partner_user_id)
    assert found is not None
    db.session.remove()
    return found.id


def test_a_user_created_between_the_read_and_the_write_keeps_their_id(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exchange read 'not seen yet'; another request created the user just then. The
    code, its event and the session all carry that user's id, and no second user exists."""
    from authserver.access import ensure_partner_user
    from authserver.oauth.grants import token_exchange

    user = f"new-{secrets.token_hex(4)}"
    real_user_access = token_exchange.user_access

    def read_then_lose_the_race(*args: Any, **kwargs: Any) -> Any:
        found = real_user_access(*args, **kwargs)
        if kwargs.get("partner_user_id") == user:
            ensure_partner_user(tenant.customer_id, user)  # the other request's insert
        return found

    monkeypatch.setattr(token_exchange, "user_access", read_then_lose_the_race)
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, user, [tenant.bots["welcome"]])
    monkeypatch.undo()
    assert _partner_users(tenant, user) == (1, 0)
    with tenant.server.app.app_context():
        pk = _user_pk(tenant, user)
    assert [e["partner_user"] for e in tenant.events("code_issued")] == [pk]
    assert iframe.redeem(code).ok
    assert unverified_claims(iframe.tokens["access_token"])["sub"] == pk


def test_parallel_member_puts_for_one_new_user_make_one_member(tenant: Tenant) -> None:
    api = management_api(tenant)
    billing = tenant.bots["billing"]
    for _ in range(3):
        user = f"new-{secrets.token_hex(4)}"
        responses = _at_once(
            12, lambda user=user: api.call("PUT", f"/api/v1/bots/{billing}/members/{user}")
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 11 + [201], [r.text for r in responses]
        assert _partner_users(tenant, user) == (1, 1)


# -- 10 and 13 against the production server (``chatframe serve``, gunicorn) -----------------


@dataclass
class Served:
    url: str
    port: int
    seed: Seed


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    cwd = tmp_path_factory.mktemp("served")
    port = free_port()
    env = clean_env(
        CHATFRAME_ISSUER=f"http://127.0.0.1:{port}",
        CHATFRAME_DATABASE_URL=f"sqlite:///{cwd}/chatframe.db",
        CHATFRAME_SECRET_KEY=secrets.token_urlsafe(48),
        CHATFRAME_KEYS_DIR=str(cwd / "keys"),
    )
    cli(env, cwd, "db", "upgrade")
    tenant = seed(env, cwd, ORIGIN)
    process = start(["serve", "--port", str(port), "--workers", "1"], env, cwd)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/oauth/jwks", process)
        yield Served(f"http://127.0.0.1:{port}", port, tenant)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_served_chat_api_challenge_never_carries_the_path(served: Served) -> None:
    iframe = Iframe(served.url, served.seed.client_id, ORIGIN)
    backend = Backend(served.url, served.seed.client_id, served.seed.client_secret)
    assert iframe.redeem(backend.code(iframe, "alice", [served.seed.bot_id])).status_code == 200
    headers = chat_headers(iframe, "GET", f"{served.url}/chat/api/bots/{served.seed.bot_id}")
    response = requests.get(f"{served.url}/chat/api/bots/%E2%98%83", headers=headers, timeout=30)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_dpop_proof"
    assert response.headers["WWW-Authenticate"].isascii()


# Item 13 (a 413 must not announce keep-alive and then drop the connection) is tested under
# both HTTP servers in tests/functional/test_servers.py.


def test_served_small_bodies_keep_the_connection(served: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    connection.auto_open = False
    connection.connect()
    for _ in range(2):
        connection.request(
            "POST",
            "/oauth/token",
            body=b"grant_type=nope",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = connection.getresponse()
        # HTTP/1.1 keeps the connection unless told otherwise (granian sends no header for it)
        assert response.status == 400 and response.getheader("Connection") in (None, "keep-alive")
        response.read()
    connection.close()


# -- Repeated and empty OAuth parameters (RFC 6749 §3.1, §3.2) --------------------------------


@pytest.mark.parametrize("name", ["client_id", "code", "code_verifier", "origin"])
def test_a_parameter_sent_twice_is_refused_and_spends_nothing(tenant: Tenant, name: str) -> None:
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])
    data: dict[str, Any] = {
        "grant_type": "authorization_code",
        "client_id": tenant.client_id,
        "code": code,
        "code_verifier": iframe.verifier,
        "origin": iframe.origin,
    }
    # The same value twice too: which copy a server would read is exactly what must not matter.
    data[name] = [data[name], data[name]]
    response = requests.post(
        iframe.token_url, data=data, headers={"DPoP": iframe.proof()}, timeout=30
    )
    body = assert_refused(response, 400, "invalid_request")
    assert f"'{name}' was sent more than once" in body["error_description"]
    assert iframe.redeem(code).status_code == 200  # the refusal did not consume the code


def test_an_empty_parameter_counts_as_omitted(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])
    # ``client_id=…&client_id=``: the empty copy is no value, so nothing is repeated.
    assert iframe.redeem(code, client_id=[tenant.client_id, ""]).status_code == 200
    # And an empty required parameter is a missing one, named as such.
    other = tenant.iframe()
    code = tenant.backend.code(other, "alice", [tenant.bots["welcome"]])
    body = assert_refused(other.redeem(code, code_verifier=""), 400, "invalid_request")
    assert "code_verifier" in body["error_description"]


@pytest.mark.parametrize("endpoint", ["revoke", "introspect"])
def test_revoke_and_introspect_refuse_a_repeated_token(tenant: Tenant, endpoint: str) -> None:
    iframe = tenant.iframe()
    iframe.redeem(tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]]))
    token = iframe.tokens["refresh_token"]
    response = requests.post(
        f"{tenant.server.url}/oauth/{endpoint}",
        data={"token": [token, token]},
        auth=(tenant.client_id, tenant.client_secret),
        timeout=30,
    )
    body = assert_refused(response, 400, "invalid_request")
    assert "'token' was sent more than once" in body["error_description"]
    assert iframe.refresh().status_code == 200  # nothing was revoked
