"""The fast lane answers exactly as the app would, and hands the app everything else.

Each answer is compared with the Flask app's own answer to the same request (the app behind the
lane, called directly): status, headers and body, on both storage setups.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import sqlalchemy.exc
from prometheus_client import REGISTRY
from werkzeug.test import Client, TestResponse

from authserver.fastlane import FastLane
from tests.conftest import LiveServer, Tenant
from tests.embed import Iframe

CC_FORM = {"grant_type": "client_credentials", "scope": "manage"}


def lane_of(server: LiveServer) -> FastLane:
    lane = server.app.wsgi_app
    assert isinstance(lane, FastLane)
    return lane


def both(server: LiveServer) -> tuple[Client, Client]:
    """A client through the lane, and one straight to the Flask app behind it."""
    lane = lane_of(server)
    return Client(lane), Client(lane.wsgi_app)


def basic(tenant: Tenant, secret: str | None = None) -> dict[str, str]:
    raw = f"{tenant.client_id}:{secret or tenant.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def headers_of(response: TestResponse) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.items() if k != "Content-Length"]


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def assert_same_token_answer(fast: TestResponse, app: TestResponse) -> None:
    assert (fast.status_code, headers_of(fast)) == (app.status_code, headers_of(app))
    fast_body, app_body = fast.get_json(), app.get_json()
    assert fast_body.keys() == app_body.keys()
    assert {k: v for k, v in fast_body.items() if k != "access_token"} == {
        k: v for k, v in app_body.items() if k != "access_token"
    }
    varying = {"iat", "exp", "jti"}
    fast_claims, app_claims = claims(fast_body["access_token"]), claims(app_body["access_token"])
    assert fast_claims.keys() == app_claims.keys()
    assert {k: v for k, v in fast_claims.items() if k not in varying} == {
        k: v for k, v in app_claims.items() if k not in varying
    }


def test_client_credentials_on_the_lane_is_the_apps_answer(tenant: Tenant) -> None:
    fast, app = both(tenant.server)
    for auth in ("basic", "post"):
        if auth == "basic":
            kwargs: dict[str, Any] = {"data": CC_FORM, "headers": basic(tenant)}
        else:
            kwargs = {
                "data": {
                    **CC_FORM,
                    "client_id": tenant.client_id,
                    "client_secret": tenant.client_secret,
                }
            }
        answers = [c.post("/oauth/token", **kwargs) for c in (fast, app)]
        assert answers[0].status_code == 200, answers[0].get_data(as_text=True)
        assert_same_token_answer(*answers)
    # The token works where a management token is for.
    token = answers[0].get_json()["access_token"]
    listed = fast.get("/api/v1/bots", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200, listed.get_data(as_text=True)


def chat_requests(
    server: LiveServer, iframe: Iframe, bot_id: str
) -> dict[str, Callable[[], dict[str, Any]]]:
    """Chat requests by what they test: each call builds one with a fresh DPoP proof."""
    path = f"/chat/api/bots/{bot_id}"
    url = server.url + path
    access = iframe.tokens["access_token"]

    def request(**headers: str) -> dict[str, Any]:
        sent = {
            "Authorization": f"DPoP {access}",
            "DPoP": iframe.proof("GET", url, access_token=access),
        }
        sent.update(headers)
        return {"path": path, "headers": {k: v for k, v in sent.items() if v}}

    return {
        "granted": request,
        "no proof": lambda: request(DPoP=""),
        "bearer scheme": lambda: request(Authorization=f"Bearer {access}"),
        "proof for another url": lambda: request(
            DPoP=iframe.proof("GET", server.url + "/chat/api/bots/bot_other", access_token=access)
        ),
        "no token": lambda: request(Authorization=""),
        "not a token": lambda: request(Authorization="DPoP abc.def.ghi"),
    }


def test_chat_bot_on_the_lane_is_the_apps_answer(tenant: Tenant) -> None:
    welcome, billing = tenant.bots["welcome"], tenant.bots["billing"]
    iframe = tenant.session("alice", [welcome])
    fast, app = both(tenant.server)
    for bot_id in (welcome, billing):  # granted, and not in the token (403)
        for name, build in chat_requests(tenant.server, iframe, bot_id).items():
            answers = [c.get(**build()) for c in (fast, app)]
            assert answers[0].status_code == answers[1].status_code, name
            assert headers_of(answers[0]) == headers_of(answers[1]), name
            assert answers[0].get_json() == answers[1].get_json(), name
    granted = fast.get(**chat_requests(tenant.server, iframe, welcome)["granted"]())
    assert granted.status_code == 200 and granted.get_json()["name"] == "Welcome"


def test_a_replayed_proof_and_a_revoked_session_are_refused_on_the_lane(tenant: Tenant) -> None:
    welcome = tenant.bots["welcome"]
    iframe = tenant.session("alice", [welcome])
    fast = Client(lane_of(tenant.server))
    once = chat_requests(tenant.server, iframe, welcome)["granted"]()
    assert fast.get(**once).status_code == 200
    replayed = fast.get(**once)
    assert replayed.status_code == 401
    assert replayed.get_json()["error"] == "invalid_dpop_proof"
    assert "already used" in replayed.get_json()["error_description"]
    assert iframe.revoke().status_code == 200
    ended = fast.get(**chat_requests(tenant.server, iframe, welcome)["granted"]())
    assert ended.status_code == 401
    assert ended.get_json()["error"] == "invalid_token"
    assert ended.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')


class Recorder:
    """Wraps the app behind the lane and records the paths it was handed."""

    def __init__(self, lane: FastLane) -> None:
        self.inner = lane.wsgi_app
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.paths.append(environ["PATH_INFO"])
        return self.inner(environ, start_response)


@pytest.fixture
def recorder(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    lane = lane_of(server)
    recorder = Recorder(lane)
    monkeypatch.setattr(lane, "wsgi_app", recorder)
    return recorder


def test_the_lane_hands_every_other_request_to_the_app(tenant: Tenant, recorder: Recorder) -> None:
    fast = Client(lane_of(tenant.server))
    assert fast.post("/oauth/token", data=CC_FORM, headers=basic(tenant)).status_code == 200
    assert recorder.paths == []  # the lane answered it

    refusals = {
        "wrong secret": (
            {"data": CC_FORM, "headers": basic(tenant, "wrong")},
            401,
            "invalid_client",
        ),
        "from a browser": (
            {"data": CC_FORM, "headers": {**basic(tenant), "Origin": "http://localhost:5001"}},
            400,
            "invalid_request",
        ),
        "scope repeated": (
            {
                "data": "grant_type=client_credentials&scope=manage&scope=manage",
                "headers": basic(tenant),
            },
            400,
            "invalid_request",
        ),
        "other scope": (
            {"data": {**CC_FORM, "scope": "chat"}, "headers": basic(tenant)},
            400,
            "invalid_scope",
        ),
        "query string": (
            {"query_string": "scope=manage", "data": CC_FORM, "headers": basic(tenant)},
            400,
            "invalid_request",
        ),
        "NUL in the form": (
            {"data": {**CC_FORM, "x": "a\x00b"}, "headers": basic(tenant)},
            400,
            "invalid_request",
        ),
    }
    for name, (kwargs, status, error) in refusals.items():
        recorder.paths.clear()
        if isinstance(kwargs.get("data"), str):
            kwargs["content_type"] = "application/x-www-form-urlencoded"
        response = fast.post("/oauth/token", **kwargs)
        assert recorder.paths == ["/oauth/token"], name
        assert response.status_code == status, (name, response.get_data(as_text=True))
        assert response.get_json()["error"] == error, name

    # Another grant passes through with its body intact.
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["billing"]])
    recorder.paths.clear()
    redeemed = fast.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": iframe.verifier,
            "client_id": tenant.client_id,
            "origin": "http://localhost:5001",
        },
        headers={"DPoP": iframe.proof("POST", iframe.token_url)},
    )
    assert redeemed.status_code == 200, redeemed.get_data(as_text=True)
    assert recorder.paths == ["/oauth/token"]


def counted(rule: str, status: str) -> float:
    labels = {"endpoint": rule, "method": "GET" if "chat" in rule else "POST", "status": status}
    return REGISTRY.get_sample_value("chatframe_http_requests_total", labels) or 0.0


def test_lane_answers_are_counted_in_the_metrics(tenant: Tenant) -> None:
    welcome = tenant.bots["welcome"]
    iframe = tenant.session("alice", [welcome])
    fast = Client(lane_of(tenant.server))
    issued = {"grant_type": "client_credentials", "outcome": "issued"}
    before = (
        counted("/oauth/token", "200"),
        counted("/chat/api/bots/<bot_id>", "200"),
        REGISTRY.get_sample_value("chatframe_grants_total", issued) or 0.0,
    )
    assert fast.post("/oauth/token", data=CC_FORM, headers=basic(tenant)).status_code == 200
    assert fast.get(**chat_requests(tenant.server, iframe, welcome)["granted"]()).status_code == 200
    after = (
        counted("/oauth/token", "200"),
        counted("/chat/api/bots/<bot_id>", "200"),
        REGISTRY.get_sample_value("chatframe_grants_total", issued) or 0.0,
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]


def test_an_error_on_the_token_lane_is_answered_by_the_app(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from authserver.views import oauth

    def broken(*_: Any) -> None:
        raise RuntimeError("lane bug")

    monkeypatch.setattr(oauth, "plain_secret_client", broken)
    response = Client(lane_of(tenant.server)).post(
        "/oauth/token", data=CC_FORM, headers=basic(tenant)
    )
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RuntimeError("secret internals"), 500, "server_error"),
        (
            sqlalchemy.exc.OperationalError("SELECT", {}, Exception("host db.internal")),
            503,
            "temporarily_unavailable",
        ),
    ],
)
def test_an_error_on_the_chat_lane_is_answered_like_the_app(
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    code: str,
) -> None:
    import chatapp.api

    welcome = tenant.bots["welcome"]
    iframe = tenant.session("alice", [welcome])

    def broken(*_: Any, **__: Any) -> None:
        raise error

    monkeypatch.setattr(chatapp.api, "authenticate", broken)
    response = Client(lane_of(tenant.server)).get(
        **chat_requests(tenant.server, iframe, welcome)["granted"]()
    )
    assert response.status_code == status
    body = response.get_json()
    assert body["error"] == code
    assert "secret internals" not in response.get_data(as_text=True)
    assert "db.internal" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if status == 503:
        assert response.headers["Retry-After"]
    else:
        assert "incident" in body["error_description"]
