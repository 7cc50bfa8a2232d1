"""The management API, route by route: only the owner succeeds, another customer reads 404,
no token reads 401; and what each route does, as a customer's backend sees it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer, Tenant, assert_refused
from tests.functional.conftest import ManagementApi, management_api


@dataclass(frozen=True)
class Route:
    method: str
    rule: str  # as in the app's url_map
    path: Callable[[Tenant, str], str]  # (owner, a partner user only the owner has) -> path
    body: dict[str, Any] | None = None
    owner_status: int = 200
    names_an_object: bool = True  # False: lists or creates in the caller's own account
    public: bool = False


ROUTES = [
    Route("GET", "/api/v1/bots", lambda t, u: "/api/v1/bots", names_an_object=False),
    Route(
        "POST",
        "/api/v1/bots",
        lambda t, u: "/api/v1/bots",
        {"name": "Created by API"},
        201,
        names_an_object=False,
    ),
    Route("GET", "/api/v1/bots/<bot_id>", lambda t, u: f"/api/v1/bots/{t.bots['billing']}"),
    Route(
        "PATCH",
        "/api/v1/bots/<bot_id>",
        lambda t, u: f"/api/v1/bots/{t.bots['billing']}",
        {"greeting": "Patched greeting"},
    ),
    Route(
        "DELETE",
        "/api/v1/bots/<bot_id>",
        lambda t, u: f"/api/v1/bots/{t.bots['billing']}",
        owner_status=204,
    ),
    Route(
        "GET",
        "/api/v1/bots/<bot_id>/members",
        lambda t, u: f"/api/v1/bots/{t.bots['billing']}/members",
    ),
    Route(
        "PUT",
        "/api/v1/bots/<bot_id>/members/<path:partner_user_id>",
        lambda t, u: f"/api/v1/bots/{t.bots['billing']}/members/carol",
        owner_status=201,
    ),
    Route(
        "DELETE",
        "/api/v1/bots/<bot_id>/members/<path:partner_user_id>",
        lambda t, u: f"/api/v1/bots/{t.bots['billing']}/members/{u}",
        owner_status=204,
    ),
    Route(
        "GET",
        "/api/v1/users/<path:partner_user_id>/sessions",
        lambda t, u: f"/api/v1/users/{u}/sessions",
    ),
    Route(
        "DELETE",
        "/api/v1/users/<path:partner_user_id>/sessions",
        lambda t, u: f"/api/v1/users/{u}/sessions",
        owner_status=204,
    ),
    Route("GET", "/api/v1/events", lambda t, u: "/api/v1/events", names_an_object=False),
    Route("GET", "/api/v1/openapi.json", lambda t, u: "/api/v1/openapi.json", public=True),
]
ROUTE_IDS = [f"{r.method} {r.rule}" for r in ROUTES]
MISSING_BOT = "bot_doesnotexist0000000000"


def api_rules(server: LiveServer) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in server.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


@pytest.fixture
def own_user(tenant: Tenant) -> str:
    """A partner user only the owner has, with a live session and a bot membership."""
    from authserver import registry
    from authserver.extensions import db

    user = f"dana-{secrets.token_hex(3)}"
    with tenant.server.app.app_context():
        registry.add_member(registry.get_bot(tenant.bots["billing"]), user)
        db.session.remove()
    tenant.session(user, [tenant.bots["billing"]])
    return user


def call(api: ManagementApi, route: Route, tenant: Tenant, user: str) -> requests.Response:
    return api.call(route.method, route.path(tenant, user), json=route.body)


def test_every_route_of_the_api_is_tried_here(server: LiveServer) -> None:
    assert api_rules(server) == {(r.method, r.rule) for r in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_the_owner_succeeds(route: Route, tenant: Tenant, own_user: str) -> None:
    response = call(management_api(tenant), route, tenant, own_user)
    assert response.status_code == route.owner_status, response.text
    if response.status_code != 204:
        body = response.json()
        assert "error" not in body
        if route.method == "GET" and not route.public and "data" in body:
            assert body["data"] and body["next"] is None


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_another_customer_learns_nothing(
    route: Route, tenant: Tenant, other_tenant: Tenant, own_user: str
) -> None:
    stranger = management_api(other_tenant)
    response = call(stranger, route, tenant, own_user)
    if route.public:
        assert response.status_code == 200
        return
    if route.names_an_object:
        body = assert_refused(response, 404, "not_found")
        unknown = call(stranger, route, make_unknown(tenant), "nobody-at-all")
        # Someone else's object reads exactly like one that does not exist.
        theirs = body["error_description"].replace(tenant.bots["billing"], "B")
        missing = unknown.json()["error_description"].replace(MISSING_BOT, "B")
        assert theirs.replace(own_user, "U") == missing.replace("nobody-at-all", "U")
    else:
        assert response.status_code == route.owner_status, response.text
    # Whatever the stranger did, the owner's account is as it was.
    owner = management_api(tenant)
    listed = owner.call("GET", "/api/v1/bots").json()["data"]
    assert {b["id"] for b in listed} == set(tenant.bots.values())
    billing = owner.call("GET", f"/api/v1/bots/{tenant.bots['billing']}").json()
    assert billing["greeting"] != "Patched greeting"
    members = owner.call("GET", f"/api/v1/bots/{tenant.bots['billing']}/members").json()["data"]
    assert {m["partner_user_id"] for m in members} == {"alice", own_user}
    sessions = owner.call("GET", f"/api/v1/users/{own_user}/sessions").json()["data"]
    assert len(sessions) == 1
    if route.rule == "/api/v1/events":
        theirs = {e["id"] for e in response.json()["data"]}
        ours = {e["id"] for e in owner.call("GET", "/api/v1/events").json()["data"]}
        assert ours and not theirs & ours
    if route.rule == "/api/v1/bots" and route.method == "GET":
        assert not {b["id"] for b in response.json()["data"]} & set(tenant.bots.values())


def make_unknown(tenant: Tenant) -> Tenant:
    """The tenant with ids that exist nowhere, to compare 'missing' with 'someone else's'."""
    missing = dict.fromkeys(tenant.bots, MISSING_BOT)
    return Tenant(tenant.server, tenant.customer_id, tenant.client_id, "", missing)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_no_token_is_401(route: Route, tenant: Tenant, own_user: str) -> None:
    response = call(ManagementApi(tenant.server, None), route, tenant, own_user)
    if route.public:
        assert response.status_code == 200
        return
    assert_refused(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_tokens_that_are_not_management_tokens_are_refused(tenant: Tenant) -> None:
    iframe = tenant.session("alice", [tenant.bots["billing"]])
    chat_token = iframe.tokens["access_token"]
    for token in (chat_token, iframe.tokens["id_token"], "not-a-jwt", tenant.client_secret):
        response = ManagementApi(tenant.server, token).call("GET", "/api/v1/bots")
        assert_refused(response, 401, "invalid_token")
    basic = requests.get(
        tenant.server.url + "/api/v1/bots",
        auth=(tenant.client_id, tenant.client_secret),
        timeout=30,
    )
    assert_refused(basic, 401, "invalid_token")


def test_an_expired_token_is_refused(tenant: Tenant) -> None:
    tenant.server.configure(access_token_ttl=1)
    api = management_api(tenant)
    time.sleep(2.1)
    body = assert_refused(api.call("GET", "/api/v1/bots"), 401, "invalid_token")
    assert "expired" in body["error_description"]


def test_a_disabled_client_loses_the_api_at_once(tenant: Tenant) -> None:
    from authserver import registry

    api = management_api(tenant)
    assert api.call("GET", "/api/v1/bots").status_code == 200
    with tenant.server.app.app_context():
        registry.update_client(registry.get_client(tenant.client_id), enabled=False)
    assert_refused(api.call("GET", "/api/v1/bots"), 401, "invalid_token")


def test_bot_lifecycle(tenant: Tenant) -> None:
    api = management_api(tenant)
    created = api.call(
        "POST",
        "/api/v1/bots",
        json={
            "name": "Returns",
            "greeting": "Hello! Ask me about returns.",
            "access": "all_users",
            "require_mfa": True,
            "appearance": {"accent": "#0EA5E9"},
            "faq": [{"question": "How long do I have?", "answer": "30 days."}],
        },
    )
    assert created.status_code == 201, created.text
    bot = created.json()
    assert bot["id"].startswith("bot_") and bot["access"] == "all_users" and bot["require_mfa"]
    assert bot["appearance"] == {"accent": "#0ea5e9"}
    assert bot["faq"] == [{"question": "How long do I have?", "answer": "30 days."}]
    assert api.call("GET", f"/api/v1/bots/{bot['id']}").json() == bot

    patched = api.call(
        "PATCH",
        f"/api/v1/bots/{bot['id']}",
        json={"name": "Returns & refunds", "faq": [], "appearance": {"background": "#ffffff"}},
    ).json()
    assert patched["name"] == "Returns & refunds" and patched["faq"] == []
    assert patched["greeting"] == "Hello! Ask me about returns."  # untouched
    assert patched["appearance"] == {"accent": "#0ea5e9", "background": "#ffffff"}

    assert api.call("DELETE", f"/api/v1/bots/{bot['id']}").status_code == 204
    assert_refused(api.call("GET", f"/api/v1/bots/{bot['id']}"), 404, "not_found")
    assert_refused(api.call("DELETE", f"/api/v1/bots/{bot['id']}"), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "name is required"),
        ({"name": ""}, "name must be a non-empty string"),
        ({"name": "x", "access": "everyone"}, "access must be 'members' or 'all_users'"),
        ({"name": "x", "colour": "red"}, "Unknown field(s) colour"),
        ({"name": "x", "appearance": {"accent": "blue"}}, "accent must be a hex colour"),
        ({"name": "x", "appearance": {"font": "#000000"}}, "Unknown appearance field"),
        ({"name": "x", "require_mfa": "yes"}, "require_mfa must be true or false"),
        ({"name": "x", "faq": [{"question": "q"}]}, "An FAQ answer must be 1 to 4000"),
        ({"name": "x", "faq": "not a list"}, "faq must be a list"),
        ({"name": "x" * 201}, "at most 200 characters"),
    ],
)
def test_bad_bot_fields_are_explained(tenant: Tenant, body: dict[str, Any], fragment: str) -> None:
    api = management_api(tenant)
    response = api.call("POST", "/api/v1/bots", json=body)
    assert fragment in assert_refused(response, 400, "invalid_request")["error_description"]
    if body:
        patch = api.call("PATCH", f"/api/v1/bots/{tenant.bots['welcome']}", json=body)
        assert fragment in assert_refused(patch, 400, "invalid_request")["error_description"]
    bots = api.call("GET", "/api/v1/bots").json()["data"]
    assert len(bots) == len(tenant.bots)  # nothing was created
    welcome = api.call("GET", f"/api/v1/bots/{tenant.bots['welcome']}").json()
    assert welcome["name"] == "Welcome" and welcome["appearance"] == {}  # nothing was changed


def test_a_body_that_is_not_a_json_object_is_explained(tenant: Tenant) -> None:
    api = management_api(tenant)
    for kwargs in (
        {"data": "name=x"},
        {"data": "{not json", "headers": {"Content-Type": "application/json"}},
        {"json": ["name", "x"]},
    ):
        response = api.call("POST", "/api/v1/bots", **kwargs)
        body = assert_refused(response, 400, "invalid_request")
        assert "JSON object" in body["error_description"]


def test_lists_page_with_a_cursor(tenant: Tenant) -> None:
    api = management_api(tenant)
    for n in range(5):
        assert api.call("POST", "/api/v1/bots", json={"name": f"Paged {n}"}).status_code == 201
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.call("GET", "/api/v1/bots", params=params).json()
        assert len(page["data"]) <= 3
        seen += [b["id"] for b in page["data"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 8


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"cursor": "garbage!"}]
)
def test_bad_paging_parameters_are_explained(tenant: Tenant, params: dict[str, Any]) -> None:
    response = management_api(tenant).call("GET", "/api/v1/bots", params=params)
    assert_refused(response, 400, "invalid_request")


def test_members_put_is_idempotent_and_delete_says_204(tenant: Tenant) -> None:
    api = management_api(tenant)
    path = f"/api/v1/bots/{tenant.bots['support']}/members/erin"
    first = api.call("PUT", path)
    assert first.status_code == 201
    member = first.json()
    assert member["partner_user_id"] == "erin" and member["id"].startswith("usr_")
    assert member["bot_id"] == tenant.bots["support"]
    again = api.call("PUT", path)
    assert again.status_code == 200 and again.json()["id"] == member["id"]
    listed = api.call("GET", f"/api/v1/bots/{tenant.bots['support']}/members").json()["data"]
    assert [m["partner_user_id"] for m in listed] == ["bob", "erin"]
    assert api.call("DELETE", path).status_code == 204
    assert_refused(api.call("DELETE", path), 404, "not_found")
    assert [e["type"] for e in tenant.events()][-2:] == ["member_added", "member_removed"]


def test_partner_user_ids_with_slashes_and_bad_ids(tenant: Tenant) -> None:
    api = management_api(tenant)
    bot = tenant.bots["support"]
    slashed = api.call("PUT", f"/api/v1/bots/{bot}/members/team%2Fana")
    assert slashed.status_code == 201 and slashed.json()["partner_user_id"] == "team/ana"
    spaced = api.call("PUT", f"/api/v1/bots/{bot}/members/ana%20smith")
    assert "no spaces" in assert_refused(spaced, 400, "invalid_request")["error_description"]


def test_removing_a_member_takes_effect_on_the_next_request(tenant: Tenant) -> None:
    billing, welcome = tenant.bots["billing"], tenant.bots["welcome"]
    iframe = tenant.session("alice", [billing, welcome])
    api = management_api(tenant)
    assert api.call("DELETE", f"/api/v1/bots/{billing}/members/alice").status_code == 204
    refreshed = iframe.refresh()
    assert refreshed.status_code == 200
    introspected = tenant.backend.introspect(refreshed.json()["access_token"]).json()
    assert introspected["bots"] == [welcome]
    exchange = tenant.backend.exchange(tenant.iframe(), "alice", [billing])
    assert_refused(exchange, 400, "invalid_target")


def test_revoking_a_users_sessions_ends_them_at_once(tenant: Tenant) -> None:
    first = tenant.session("alice", [tenant.bots["billing"]])
    second = tenant.session("alice", [tenant.bots["welcome"]])
    bob = tenant.session("bob", [tenant.bots["support"]])
    api = management_api(tenant)
    live = api.call("GET", "/api/v1/users/alice/sessions").json()["data"]
    assert len(live) == 2 and all(s["id"].startswith("ses_") for s in live)
    assert api.call("DELETE", "/api/v1/users/alice/sessions").status_code == 204
    for iframe in (first, second):
        assert_refused(iframe.refresh(), 400, "invalid_grant")
        assert tenant.backend.introspect(iframe.tokens["access_token"]).json() == {"active": False}
    assert bob.refresh().status_code == 200
    assert api.call("GET", "/api/v1/users/alice/sessions").json()["data"] == []
    revoked = tenant.events("session_revoked")
    assert {e["detail"]["reason"] for e in revoked[-2:]} == {"revoked_by_customer"}
    assert_refused(api.call("DELETE", "/api/v1/users/nobody/sessions"), 404, "not_found")


def test_events_filter_by_type_and_time(tenant: Tenant) -> None:
    tenant.session("alice", [tenant.bots["billing"]])
    api = management_api(tenant)
    issued = api.call("GET", "/api/v1/events", params={"type": "code_issued"}).json()["data"]
    assert len(issued) == 1 and issued[0]["client_id"] == tenant.client_id
    assert issued[0]["id"].startswith("evt_") and "customer_id" not in issued[0]
    both = api.call("GET", "/api/v1/events", params={"type": "code_issued,code_redeemed"}).json()
    assert [e["type"] for e in both["data"]] == ["code_issued", "code_redeemed"]
    everything = api.call("GET", "/api/v1/events").json()["data"]
    times = [e["created_at"] for e in everything]
    assert times == sorted(times)  # oldest first
    later = api.call("GET", "/api/v1/events", params={"since": times[-1]}).json()["data"]
    assert [e["id"] for e in later] == [everything[-1]["id"]]
    future = api.call("GET", "/api/v1/events", params={"since": int(time.time()) + 60}).json()
    assert future == {"data": [], "next": None}
    by_user = api.call("GET", "/api/v1/events", params={"partner_user_id": "alice"}).json()
    assert by_user["data"]
    assert {e["partner_user"] for e in by_user["data"]} == {issued[0]["partner_user"]}
    nobody = api.call("GET", "/api/v1/events", params={"partner_user_id": "nobody"}).json()
    assert nobody == {"data": [], "next": None}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [({"type": "code_stolen"}, "Unknown event type"), ({"since": "yesterday"}, "is not a time")],
)
def test_bad_event_filters_are_explained(
    tenant: Tenant, params: dict[str, str], fragment: str
) -> None:
    response = management_api(tenant).call("GET", "/api/v1/events", params=params)
    assert fragment in assert_refused(response, 400, "invalid_request")["error_description"]


def test_the_openapi_document_validates_and_covers_every_route(server: LiveServer) -> None:
    from openapi_spec_validator import validate

    document = requests.get(f"{server.url}/api/v1/openapi.json", timeout=30).json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": server.settings.issuer}]
    paths = document["paths"]
    for method, rule in api_rules(server):
        path = rule.replace("<path:", "{").replace("<", "{").replace(">", "}")
        assert path in paths, path
        assert method.lower() in paths[path], (method, path)
    for endpoint in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
        assert "post" in paths[endpoint]
    errors = paths["/api/v1/bots/{bot_id}"]["get"]["responses"]
    assert {"401", "404"} <= errors.keys()
