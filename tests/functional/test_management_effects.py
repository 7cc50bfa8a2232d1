"""Management API changes take effect on the member's very next chat request."""

from __future__ import annotations

import requests

from tests.conftest import Tenant


def manage(tenant: Tenant, method: str, path: str) -> requests.Response:
    token = tenant.backend.client_credentials().json()["access_token"]
    return requests.request(
        method,
        f"{tenant.server.url}/api/v1{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_removing_a_member_refuses_the_next_chat_request(tenant: Tenant) -> None:
    billing, welcome = tenant.bots["billing"], tenant.bots["welcome"]
    iframe = tenant.session("alice", [billing, welcome])
    cnv = iframe.api("POST", f"/chat/api/bots/{billing}/conversations", json={}).json()["id"]
    assert manage(tenant, "DELETE", f"/bots/{billing}/members/alice").status_code == 204
    response = iframe.api("POST", f"/chat/api/conversations/{cnv}/messages", json={"text": "hi"})
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    assert iframe.api("GET", f"/chat/api/bots/{welcome}").status_code == 200  # others unaffected
    # and no new token names that bot any more
    refreshed = iframe.refresh()
    assert refreshed.status_code == 200 and f"bot:{billing}" not in refreshed.json()["scope"]


def test_revoking_a_users_sessions_refuses_the_next_chat_request(tenant: Tenant) -> None:
    welcome = tenant.bots["welcome"]
    alice = tenant.session("alice", [welcome])
    bob = tenant.session("bob", [welcome])
    assert manage(tenant, "DELETE", "/users/alice/sessions").status_code in (200, 204)
    response = alice.api("GET", f"/chat/api/bots/{welcome}")
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    assert alice.refresh().json()["error"] == "invalid_grant"
    assert bob.api("GET", f"/chat/api/bots/{welcome}").status_code == 200  # only alice's


def test_another_customers_token_cannot_revoke_or_remove(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    billing = tenant.bots["billing"]
    iframe = tenant.session("alice", [billing])
    assert manage(other_tenant, "DELETE", f"/bots/{billing}/members/alice").status_code == 404
    manage(other_tenant, "DELETE", "/users/alice/sessions")  # their own alice, if any
    assert iframe.api("GET", f"/chat/api/bots/{billing}").status_code == 200
