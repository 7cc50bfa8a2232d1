"""Refresh rotation, reuse detection, session lifetime, revocation and introspection isolation."""

from __future__ import annotations

import time

from tests.conftest import LiveServer, Tenant, assert_refused
from tests.embed import dpop_proof


def test_reused_refresh_token_revokes_the_session(tenant: Tenant) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    stolen = iframe.tokens["refresh_token"]
    assert iframe.refresh().status_code == 200
    current = dict(iframe.tokens)
    body = assert_refused(iframe.refresh(stolen), 400, "invalid_grant")
    assert "revoked" in body["error_description"]
    # the legitimate successor died with the session
    assert_refused(iframe.refresh(current["refresh_token"]), 400, "invalid_grant")
    assert tenant.backend.introspect(current["access_token"]).json() == {"active": False}
    assert tenant.events("refresh_reuse")
    assert tenant.events("session_revoked")[-1]["detail"]["reason"] == "refresh_reuse"


def test_refresh_after_session_revoke(tenant: Tenant) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    assert tenant.backend.revoke(iframe.tokens["access_token"]).status_code == 200
    assert_refused(iframe.refresh(), 400, "invalid_grant")


def test_refresh_needs_the_session_dpop_key(tenant: Tenant) -> None:
    from joserfc.jwk import ECKey

    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    thief_proof = dpop_proof(ECKey.generate_key("P-256"), "POST", iframe.token_url)
    assert_refused(iframe.refresh(headers={"DPoP": thief_proof}), 400, "invalid_grant")
    assert_refused(iframe.refresh(headers={}), 400, "invalid_dpop_proof")
    # the failed attempts did not rotate or revoke anything
    assert iframe.refresh().status_code == 200


def test_session_never_outlives_its_lifetime(server: LiveServer, tenant: Tenant) -> None:
    server.configure(session_ttl=2)
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    assert iframe.tokens["expires_in"] <= 2  # the access token never outlives the session
    time.sleep(2.2)
    body = assert_refused(iframe.refresh(), 400, "invalid_grant")
    assert "ended" in body["error_description"]


def test_removed_member_gets_no_further_tokens_for_that_bot(tenant: Tenant) -> None:
    from authserver import registry

    bots = [tenant.bots["billing"], tenant.bots["welcome"]]
    iframe = tenant.session("alice", bots)
    with tenant.server.app.app_context():
        registry.remove_member(registry.get_bot(tenant.bots["billing"]), "alice")
    response = iframe.refresh()
    assert response.status_code == 200
    from tests.functional.test_embed_flow import claims_of

    assert claims_of(response.json()["access_token"])["bots"] == [tenant.bots["welcome"]]
    assert f"bot:{tenant.bots['billing']}" not in response.json()["scope"]


def test_refresh_token_of_another_client_is_refused(tenant: Tenant, other_tenant: Tenant) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    response = iframe.refresh(client_id=other_tenant.client_id)
    assert_refused(response, 400, "invalid_grant")


def test_introspection_of_another_customers_token(tenant: Tenant, other_tenant: Tenant) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    for token in (iframe.tokens["access_token"], iframe.tokens["refresh_token"]):
        assert other_tenant.backend.introspect(token).json() == {"active": False}
        assert tenant.backend.introspect(token).json()["active"] is True
    management = tenant.backend.client_credentials().json()["access_token"]
    assert other_tenant.backend.introspect(management).json() == {"active": False}


def test_introspection_needs_client_authentication(tenant: Tenant) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    response = tenant.backend.introspect(
        iframe.tokens["access_token"], auth=(tenant.client_id, "x")
    )
    assert_refused(response, 401, "invalid_client")


def test_revocation_of_another_customers_token_does_nothing(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    assert other_tenant.backend.revoke(iframe.tokens["refresh_token"]).status_code == 200
    assert other_tenant.backend.revoke(iframe.tokens["access_token"]).status_code == 200
    # another customer's iframe client_id cannot revoke it either
    thief = other_tenant.iframe()
    assert thief.revoke(iframe.tokens["refresh_token"]).status_code == 200
    assert iframe.refresh().status_code == 200


def test_iframe_revokes_its_own_session(tenant: Tenant) -> None:
    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    access = iframe.tokens["access_token"]
    assert iframe.revoke().status_code == 200
    assert tenant.backend.introspect(access).json() == {"active": False}
    assert tenant.events("session_revoked")[-1]["detail"]["reason"] == "revoked_by_client"


def test_revocation_without_token_parameter(tenant: Tenant) -> None:
    import requests

    response = requests.post(
        f"{tenant.server.url}/oauth/revoke", data={"client_id": tenant.client_id}, timeout=10
    )
    assert_refused(response, 400, "invalid_request")
