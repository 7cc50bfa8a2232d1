"""The fast lane answers exactly as the app would; the app gets only what it cannot size.

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
from tests.conftest import ORIGIN, LiveServer, Tenant
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


PLAIN = "grant_type=client_credentials&scope=manage"
FORM_TYPE = "application/x-www-form-urlencoded"


def refuse_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the full token endpoint fail loudly: an answer given now is the shortcut's."""
    from authserver.views import oauth

    def called(*_: Any, **__: Any) -> None:
        raise AssertionError("the token endpoint was called")

    monkeypatch.setattr(oauth.authorization_server, "create_token_response", called)


def test_a_plain_client_credentials_request_is_answered_without_the_endpoint(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, app = both(tenant.server)
    post = {**CC_FORM, "client_id": tenant.client_id, "client_secret": tenant.client_secret}
    for kwargs in ({"data": CC_FORM, "headers": basic(tenant)}, {"data": post}):
        expected = app.post("/oauth/token", **kwargs)  # the endpoint's own answer
        assert expected.status_code == 200, expected.get_data(as_text=True)
        with monkeypatch.context() as patch:
            refuse_endpoint(patch)
            answered = fast.post("/oauth/token", **kwargs)
        assert answered.status_code == 200, answered.get_data(as_text=True)
        assert_same_token_answer(answered, expected)
        assert list(answered.get_json()) == list(expected.get_json())  # the same JSON text
        # DESIGN.md (d): a JWT for the management API, valid 10 minutes.
        issued = claims(answered.get_json()["access_token"])
        assert issued["aud"] == f"{tenant.server.url}/api" and issued["scope"] == "manage"
        assert issued["exp"] - issued["iat"] == answered.get_json()["expires_in"] == 600


def plain_request(tenant: Tenant, **changes: Any) -> tuple[dict[str, Any], bytes]:
    """The environ and body of a plain client_credentials request, with ``changes``."""
    from werkzeug.test import EnvironBuilder

    kwargs: dict[str, Any] = {
        "path": "/oauth/token",
        "method": "POST",
        "data": PLAIN,
        "content_type": FORM_TYPE,
        "headers": basic(tenant),
    }
    kwargs.update(changes)
    environ = EnvironBuilder(**kwargs).get_environ()
    return environ, environ["wsgi.input"].read()


def declines(tenant: Tenant) -> dict[str, dict[str, Any]]:
    secret, client_id = tenant.client_secret, tenant.client_id
    encoded = "".join(f"%{byte:02X}" for byte in secret.encode())
    return {
        "a query string": {"query_string": "scope=manage"},
        "an Origin header": {"headers": {**basic(tenant), "Origin": ORIGIN}},
        "a NUL in a header": {"headers": {**basic(tenant), "X-Note": "a\x00b"}},
        "a charset parameter": {"content_type": FORM_TYPE + "; charset=utf-8"},
        "a JSON body": {"data": json.dumps(CC_FORM), "content_type": "application/json"},
        "another field": {"data": PLAIN + "&resource=x"},
        "a repeated field": {"data": PLAIN + "&scope=manage"},
        "an empty field": {"data": PLAIN + "&client_id="},
        "a percent-encoded value": {"data": "grant_type=client%5Fcredentials&scope=manage"},
        "another scope": {"data": "grant_type=client_credentials&scope=chat"},
        "credentials two ways": {"data": f"{PLAIN}&client_id={client_id}"},
        "no credentials": {"headers": {}},
        "a secret in the form that needs decoding": {
            "headers": {},
            "data": f"{PLAIN}&client_id={client_id}&client_secret={encoded}",
        },
        "Basic that is not base64": {"headers": {"Authorization": "Basic %%%"}},
        "another scheme": {"headers": {"Authorization": "Bearer " + secret}},
        "a wrong secret": {"headers": basic(tenant, "wrong-secret")},
        "an unknown client": {
            "headers": {
                "Authorization": "Basic "
                + base64.b64encode(f"cf_unknown:{secret}".encode()).decode()
            }
        },
    }


def test_the_shortcut_declines_whatever_is_not_plain(tenant: Tenant) -> None:
    from authserver.views.oauth import plain_client_credentials

    app = tenant.server.app
    environ, body = plain_request(tenant)
    Client(lane_of(tenant.server)).post("/oauth/token", data=CC_FORM, headers=basic(tenant))
    answer = plain_client_credentials(app, environ, body)
    assert answer is not None and answer[0] == 200  # the control: plain, and the cache warm
    for name, changes in declines(tenant).items():
        assert plain_client_credentials(app, *plain_request(tenant, **changes)) is None, name


def test_the_shortcut_declines_what_this_worker_would_have_to_reload(tenant: Tenant) -> None:
    from authserver.views.oauth import plain_client_credentials

    app = tenant.server.app
    svc = app.extensions["chatframe"]
    fast = Client(lane_of(tenant.server))
    assert fast.post("/oauth/token", data=CC_FORM, headers=basic(tenant)).status_code == 200
    svc.clients.invalidate(tenant.client_id)  # due for a reload: only the endpoint reads
    assert plain_client_credentials(app, *plain_request(tenant)) is None
    assert fast.post("/oauth/token", data=CC_FORM, headers=basic(tenant)).status_code == 200
    assert plain_client_credentials(app, *plain_request(tenant)) is not None
    svc.keys.invalidate()  # the signing keys too
    assert plain_client_credentials(app, *plain_request(tenant)) is None


def test_a_client_fenced_by_ip_is_never_answered_by_the_shortcut(tenant: Tenant) -> None:
    from authserver.views.oauth import plain_client_credentials
    from tests.conftest import make_tenant

    server = tenant.server
    fenced = make_tenant(server, ips=("203.0.113.0/24",))
    fast = Client(lane_of(server))
    # Another client's grant loads the signing key: the shortcut needs it loaded.
    assert fast.post("/oauth/token", data=CC_FORM, headers=basic(tenant)).status_code == 200
    refused = fast.post("/oauth/token", data=CC_FORM, headers=basic(fenced))
    assert refused.status_code == 401, refused.get_data(as_text=True)
    assert plain_client_credentials(server.app, *plain_request(fenced)) is None
    inside = plain_request(fenced, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert plain_client_credentials(server.app, *inside) is not None


def test_a_declined_request_reaches_the_endpoint_whole(tenant: Tenant, recorder: Recorder) -> None:
    fast = Client(lane_of(tenant.server))
    app = Client(recorder.inner)  # the Flask app itself, not recorded
    for name, changes in declines(tenant).items():
        environ, body = plain_request(tenant, **changes)
        sent = {
            "data": body,
            "content_type": environ["CONTENT_TYPE"],
            "query_string": environ["QUERY_STRING"],
            "headers": {
                k[5:].replace("_", "-").title(): v
                for k, v in environ.items()
                if k.startswith("HTTP_") and k != "HTTP_HOST"
            },
        }
        answers = [c.post("/oauth/token", **sent) for c in (fast, app)]
        if answers[1].status_code == 200:  # e.g. a field the endpoint ignores
            assert_same_token_answer(*answers)
        else:
            assert answers[0].status_code == answers[1].status_code, name
            assert answers[0].get_json() == answers[1].get_json(), name
    # The secret the form sent percent-encoded was decoded from the body the shortcut read.
    secret_decoded = declines(tenant)["a secret in the form that needs decoding"]
    _, body = plain_request(tenant, **secret_decoded)
    granted = fast.post("/oauth/token", data=body, content_type=FORM_TYPE)
    assert granted.status_code == 200, granted.get_data(as_text=True)
    assert recorder.paths == []  # the lane answered every one of them


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


ERRORS = [
    (RuntimeError("secret internals"), 500, "server_error"),
    (
        sqlalchemy.exc.OperationalError("SELECT", {}, Exception("host db.internal")),
        503,
        "temporarily_unavailable",
    ),
]


@pytest.fixture
def lane_served(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The chat paths the lane itself served (not its shortcut, not the app)."""
    lane = lane_of(server)
    served: list[str] = []
    serve = lane._serve

    def recording(chosen: Any, environ: dict[str, Any], params: dict[str, str]) -> Any:
        if environ["PATH_INFO"].startswith("/chat/"):
            served.append(environ["PATH_INFO"])
        return serve(chosen, environ, params)

    monkeypatch.setattr(lane, "_serve", recording)
    return served


def test_chat_requests_with_a_dpop_token_are_the_shortcuts_and_the_apps_answer(
    tenant: Tenant, lane_served: list[str]
) -> None:
    welcome, billing = tenant.bots["welcome"], tenant.bots["billing"]
    iframe = tenant.session("alice", [welcome])
    fast, app = both(tenant.server)
    answered = ("granted", "no proof", "proof for another url", "not a token")
    for bot_id in (welcome, billing):  # granted, and not in the token (403)
        for name in answered:
            built = chat_requests(tenant.server, iframe, bot_id)[name]
            answers = [c.get(**built()) for c in (fast, app)]
            assert answers[0].status_code == answers[1].status_code, name
            assert headers_of(answers[0]) == headers_of(answers[1]), name
            assert answers[0].get_data() == answers[1].get_data(), name  # the same JSON text
            assert answers[0].headers["Content-Length"] == str(len(answers[0].get_data()))
    assert lane_served == []  # the shortcut answered every one, refusals included

    once = chat_requests(tenant.server, iframe, welcome)["granted"]()
    assert fast.get(**once).status_code == 200
    replayed = fast.get(**once)  # the jti is recorded: the shortcut must answer this itself
    assert (replayed.status_code, replayed.get_json()["error"]) == (401, "invalid_dpop_proof")
    assert iframe.revoke().status_code == 200
    ended = fast.get(**chat_requests(tenant.server, iframe, welcome)["granted"]())
    assert (ended.status_code, ended.get_json()["error"]) == (401, "invalid_token")
    assert lane_served == []


def test_the_chat_shortcut_declines_what_the_edge_or_another_scheme_decides(
    tenant: Tenant, lane_served: list[str]
) -> None:
    welcome = tenant.bots["welcome"]
    iframe = tenant.session("alice", [welcome])
    fast, app = both(tenant.server)
    build = chat_requests(tenant.server, iframe, welcome)
    access = iframe.tokens["access_token"]
    declined: dict[str, Callable[[], dict[str, Any]]] = {
        "Bearer": build["bearer scheme"],
        "no token": build["no token"],
        "the scheme in lower case": lambda: build["granted"](Authorization=f"dpop {access}"),
        "a query string": lambda: {**build["granted"](), "query_string": "x=1"},
        "a NUL in a header": lambda: build["granted"](**{"X-Note": "a\x00b"}),
        "a body": lambda: {**build["granted"](), "data": b"x"},
    }
    for name, request in declined.items():
        lane_served.clear()
        answers = [c.get(**request()) for c in (fast, app)]
        assert lane_served == [f"/chat/api/bots/{welcome}"], name
        assert answers[0].status_code == answers[1].status_code, name
        assert answers[0].get_json() == answers[1].get_json(), name


def test_token_endpoint_refusals_on_the_lane_are_the_apps(tenant: Tenant) -> None:
    fast, app = both(tenant.server)
    form = "application/x-www-form-urlencoded"
    refusals: dict[str, dict[str, Any]] = {
        "wrong secret": {"data": CC_FORM, "headers": basic(tenant, "wrong")},
        "no credentials": {"data": CC_FORM},
        "from a browser": {"data": CC_FORM, "headers": {**basic(tenant), "Origin": ORIGIN}},
        "scope repeated": {
            "data": "grant_type=client_credentials&scope=manage&scope=manage",
            "content_type": form,
            "headers": basic(tenant),
        },
        "other scope": {"data": {**CC_FORM, "scope": "chat"}, "headers": basic(tenant)},
        "query string": {"query_string": "scope=manage", "data": CC_FORM, "headers": basic(tenant)},
        "NUL in the form": {"data": {**CC_FORM, "x": "a\x00b"}, "headers": basic(tenant)},
        "not UTF-8": {"data": b"grant_type=%ff%fe", "content_type": form},
        "JSON body": {"json": CC_FORM, "headers": basic(tenant)},
        "unknown grant": {"data": {"grant_type": "password"}, "headers": basic(tenant)},
        "unknown code": {
            "data": {
                "grant_type": "authorization_code",
                "code": "nope",
                "client_id": tenant.client_id,
            }
        },
    }
    for name, kwargs in refusals.items():
        answers = [c.post("/oauth/token", **kwargs) for c in (fast, app)]
        assert 400 <= answers[0].status_code < 500, (name, answers[0].get_data(as_text=True))
        assert answers[0].status_code == answers[1].status_code, name
        assert headers_of(answers[0]) == headers_of(answers[1]), name
        assert answers[0].get_json() == answers[1].get_json(), name


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


def test_the_app_gets_what_the_lane_cannot_size(tenant: Tenant, recorder: Recorder) -> None:
    fast = Client(lane_of(tenant.server))
    assert fast.post("/oauth/token", data=CC_FORM, headers=basic(tenant)).status_code == 200
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    bot = fast.get(**chat_requests(tenant.server, iframe, tenant.bots["welcome"])["granted"]())
    assert bot.status_code == 200
    assert recorder.paths == []  # the lane answered both

    too_big = fast.post(
        "/oauth/token", data={**CC_FORM, "pad": "x" * 70_000}, headers=basic(tenant)
    )
    assert recorder.paths == ["/oauth/token"]
    assert too_big.status_code == 413 and too_big.get_json()["error"] == "request_too_large"


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


@pytest.mark.parametrize("through", ["lane", "app"])
@pytest.mark.parametrize("where", ["client_credentials", "token endpoint", "chat"])
@pytest.mark.parametrize(("error", "status", "code"), ERRORS)
def test_an_error_is_answered_alike_on_the_lane_and_in_the_app(
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    lane_served: list[str],
    through: str,
    where: str,
    error: Exception,
    status: int,
    code: str,
) -> None:
    import chatapp.api
    from authserver.views import oauth

    def broken(*_: Any, **__: Any) -> None:
        raise error

    lane, app = both(tenant.server)
    fast = lane if through == "lane" else app
    grant = {"client_credentials": "client_credentials", "token endpoint": "refresh_token"}
    outage = {"grant_type": grant.get(where, ""), "outcome": "temporarily_unavailable"}
    outages_before = REGISTRY.get_sample_value("chatframe_grants_total", outage) or 0.0
    if where == "chat":
        iframe = tenant.session("alice", [tenant.bots["welcome"]])
        monkeypatch.setattr(chatapp.api, "authenticate", broken)
        response = fast.get(
            **chat_requests(tenant.server, iframe, tenant.bots["welcome"])["granted"]()
        )
        # On the lane its shortcut answered, never handing on a check that had begun (it may
        # have recorded the proof's jti).
        assert lane_served == []
    elif where == "client_credentials":
        # A worker whose cached client is due for a reload, and the reload fails.
        clients = tenant.server.app.extensions["chatframe"].clients
        monkeypatch.setattr(clients, "fresh", lambda _: None)
        monkeypatch.setattr(clients, "get", broken)
        response = fast.post("/oauth/token", data=CC_FORM, headers=basic(tenant))
    else:
        monkeypatch.setattr(oauth.authorization_server, "create_token_response", broken)
        response = fast.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"}
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
        counted_outages = REGISTRY.get_sample_value("chatframe_grants_total", outage) or 0.0
        assert counted_outages - outages_before == (0 if where == "chat" else 1)
    else:
        assert "incident" in body["error_description"]
