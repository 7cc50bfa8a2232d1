"""Token exchange refusals: each with its exact error code, no code issued, an event recorded."""

from __future__ import annotations

import pytest

from tests.conftest import ORIGIN, LiveServer, Tenant, assert_refused, make_tenant
from tests.embed import Backend


def test_wrong_secret_is_invalid_client(tenant: Tenant) -> None:
    backend = Backend(tenant.server.url, tenant.client_id, "cfs_wrong")
    body = assert_refused(
        backend.exchange(tenant.iframe(), "alice", [tenant.bots["welcome"]]), 401, "invalid_client"
    )
    assert (
        "secret" not in body["error_description"].lower() or "cfs_" not in body["error_description"]
    )
    denied = tenant.events("exchange_denied")
    assert denied and denied[-1]["detail"]["reason"] == "bad_client"
    assert not tenant.events("code_issued")


def test_invalid_client_answers_www_authenticate(tenant: Tenant) -> None:
    backend = Backend(tenant.server.url, tenant.client_id, "cfs_wrong")
    response = backend.exchange(tenant.iframe(), "alice", [tenant.bots["welcome"]])
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_secret_via_post_is_invalid_client(tenant: Tenant) -> None:
    backend = Backend(tenant.server.url, tenant.client_id, "cfs_wrong")
    assert_refused(
        backend.exchange(tenant.iframe(), "alice", [tenant.bots["welcome"]], auth="post"),
        401,
        "invalid_client",
    )


def test_unknown_client_is_invalid_client(tenant: Tenant) -> None:
    backend = Backend(tenant.server.url, "cf_doesnotexist000000000", tenant.client_secret)
    assert_refused(
        backend.exchange(tenant.iframe(), "alice", [tenant.bots["welcome"]]), 401, "invalid_client"
    )


def test_no_client_authentication_is_invalid_client(tenant: Tenant) -> None:
    response = tenant.backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], auth=None
    )
    assert_refused(response, 401, "invalid_client")


def test_caller_ip_outside_allowlist(server: LiveServer) -> None:
    fenced = make_tenant(server, ips=("203.0.113.0/24",))
    body = assert_refused(
        fenced.backend.exchange(fenced.iframe(), "alice", [fenced.bots["welcome"]]),
        401,
        "invalid_client",
    )
    assert "allowlist" in body["error_description"]
    assert fenced.events("exchange_denied")[-1]["detail"]["reason"] == "ip"


def test_caller_ip_inside_allowlist(server: LiveServer) -> None:
    fenced = make_tenant(server, ips=("127.0.0.0/8",))
    response = fenced.backend.exchange(fenced.iframe(), "alice", [fenced.bots["welcome"]])
    assert response.status_code == 200, response.text


def test_unregistered_origin(tenant: Tenant) -> None:
    iframe = tenant.iframe(origin="https://evil.example")
    body = assert_refused(
        tenant.backend.exchange(iframe, "alice", [tenant.bots["welcome"]]), 400, "invalid_request"
    )
    assert (
        "https://evil.example is not registered for client " + tenant.client_id
        in body["error_description"]
    )
    assert tenant.events("exchange_denied")[-1]["detail"]["reason"] == "origin"


def test_bot_of_another_customer(tenant: Tenant, other_tenant: Tenant) -> None:
    response = tenant.backend.exchange(tenant.iframe(), "alice", [other_tenant.bots["welcome"]])
    body = assert_refused(response, 400, "invalid_target")
    assert "unknown bot" in body["error_description"]
    assert tenant.events("exchange_denied")[-1]["detail"]["reason"] == "bot"


def test_bot_the_user_is_not_a_member_of(tenant: Tenant) -> None:
    response = tenant.backend.exchange(tenant.iframe(), "bob", [tenant.bots["billing"]])
    assert "not a member" in assert_refused(response, 400, "invalid_target")["error_description"]


def test_one_forbidden_bot_refuses_the_whole_request(tenant: Tenant) -> None:
    response = tenant.backend.exchange(
        tenant.iframe(), "bob", [tenant.bots["welcome"], tenant.bots["billing"]]
    )
    assert_refused(response, 400, "invalid_target")


def test_disabled_bot(tenant: Tenant) -> None:
    from authserver import registry

    with tenant.server.app.app_context():
        registry.update_bot(registry.get_bot(tenant.bots["welcome"]), enabled=False)
    response = tenant.backend.exchange(tenant.iframe(), "alice", [tenant.bots["welcome"]])
    assert "disabled" in assert_refused(response, 400, "invalid_target")["error_description"]


def test_mfa_bot_without_mfa_amr(tenant: Tenant) -> None:
    from authserver import registry

    with tenant.server.app.app_context():
        registry.update_bot(registry.get_bot(tenant.bots["welcome"]), require_mfa=True)
    response = tenant.backend.exchange(tenant.iframe(), "alice", [tenant.bots["welcome"]])
    assert "mfa" in assert_refused(response, 400, "invalid_target")["error_description"]


def test_disabled_client(tenant: Tenant) -> None:
    from authserver import registry

    with tenant.server.app.app_context():
        registry.update_client(registry.get_client(tenant.client_id), enabled=False)
    response = tenant.backend.exchange(tenant.iframe(), "alice", [tenant.bots["welcome"]])
    assert_refused(response, 401, "invalid_client")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"origin": None}, "invalid_request"),
        ({"scope": "chat"}, "invalid_scope"),
        ({"scope": "bot:bot_x admin"}, "invalid_scope"),
        ({"subject_token": "has space"}, "invalid_request"),
        ({"subject_token": "x" * 256}, "invalid_request"),
        ({"subject_token_type": "urn:example:other"}, "invalid_request"),
        (
            {"requested_token_type": "urn:ietf:params:oauth:token-type:access_token"},
            "invalid_request",
        ),
        ({"dpop_jkt": "not-a-thumbprint"}, "invalid_request"),
    ],
)
def test_malformed_exchange_requests(tenant: Tenant, overrides: dict, error: str) -> None:
    response = tenant.backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], **overrides
    )
    assert_refused(response, 400, error)


def test_unknown_grant_type(tenant: Tenant) -> None:
    response = tenant.backend.exchange(None, "alice", [], grant_type="password")
    assert_refused(response, 400, "unsupported_grant_type")


def test_exchange_rate_limit_per_user(tenant: Tenant) -> None:
    tenant.server.configure(exchange_limit_per_user=3, rate_limit_window=3600)
    bots = [tenant.bots["welcome"]]
    for _ in range(3):
        assert tenant.backend.exchange(tenant.iframe(), "carol", bots).status_code == 200
    response = tenant.backend.exchange(tenant.iframe(), "carol", bots)
    assert_refused(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    # another user of the same client is not affected
    assert tenant.backend.exchange(tenant.iframe(), "dave", bots).status_code == 200
    assert tenant.events("exchange_denied")[-1]["detail"] == {
        "reason": "rate_limit",
        "limit": "user",
    }


def test_exchange_rate_limit_per_client(tenant: Tenant) -> None:
    tenant.server.configure(exchange_limit_per_client=2, rate_limit_window=3600)
    bots = [tenant.bots["welcome"]]
    assert tenant.backend.exchange(tenant.iframe(), "u1", bots).status_code == 200
    assert tenant.backend.exchange(tenant.iframe(), "u2", bots).status_code == 200
    response = tenant.backend.exchange(tenant.iframe(), "u3", bots)
    assert_refused(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1


def test_origin_is_compared_exactly(tenant: Tenant) -> None:
    for near_miss in (ORIGIN + "/", ORIGIN.replace("http", "https"), ORIGIN + ".evil.example"):
        iframe = tenant.iframe(origin=near_miss)
        assert_refused(
            tenant.backend.exchange(iframe, "alice", [tenant.bots["welcome"]]),
            400,
            "invalid_request",
        )
