"""The whole server-side embed flow over HTTP, on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import base64
import json

import requests

from tests.conftest import ORIGIN, Tenant


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def header_of(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_exchange_redeem_refresh_revoke_introspect(tenant: Tenant) -> None:
    backend, iframe = tenant.backend, tenant.iframe()
    bots = [tenant.bots["billing"], tenant.bots["welcome"]]

    exchange = backend.exchange(iframe, "alice", bots, nonce="n-0S6")
    assert exchange.status_code == 200, exchange.text
    assert exchange.headers["Cache-Control"] == "no-store"
    body = exchange.json()
    assert body["issued_token_type"] == "urn:chatframe:token-type:embed-code"
    assert body["token_type"] == "N_A" and body["expires_in"] == 60
    assert len(body["access_token"]) >= 43  # >= 128 bits, base64url

    redeemed = iframe.redeem(body["access_token"])
    assert redeemed.status_code == 200, redeemed.text
    tokens = redeemed.json()
    assert tokens["token_type"] == "DPoP"
    access = claims_of(tokens["access_token"])
    assert header_of(tokens["access_token"])["typ"] == "at+jwt"
    assert access["aud"] == f"{tenant.server.url}/chat"
    assert access["bots"] == bots
    assert access["cnf"] == {"jkt": iframe.jkt}
    assert access["client_id"] == tenant.client_id
    assert access["sid"].startswith("ses_")
    assert access["sub"].startswith("usr_") and access["sub"] != "alice"
    assert access["exp"] - access["iat"] == 600
    id_token = claims_of(tokens["id_token"])
    assert id_token["aud"] == tenant.client_id
    assert id_token["nonce"] == "n-0S6"
    assert id_token["sub"] == access["sub"] and id_token["sid"] == access["sid"]
    assert id_token["exp"] - id_token["iat"] == 3600

    first_refresh = tokens["refresh_token"]
    refreshed = iframe.refresh()
    assert refreshed.status_code == 200, refreshed.text
    assert iframe.tokens["refresh_token"] != first_refresh
    assert claims_of(iframe.tokens["access_token"])["sid"] == access["sid"]

    introspected = backend.introspect(iframe.tokens["access_token"])
    assert introspected.status_code == 200
    assert introspected.json()["active"] is True
    assert introspected.json()["sub"] == access["sub"]
    assert backend.introspect(iframe.tokens["refresh_token"]).json()["active"] is True

    assert iframe.revoke().status_code == 200
    assert backend.introspect(iframe.tokens["access_token"]).json() == {"active": False}
    after = iframe.refresh()
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"


def test_sub_is_pairwise_across_customers(tenant: Tenant, other_tenant: Tenant) -> None:
    first = tenant.session("alice", [tenant.bots["welcome"]])
    second = other_tenant.session("alice", [other_tenant.bots["welcome"]])
    assert (
        claims_of(first.tokens["access_token"])["sub"]
        != claims_of(second.tokens["access_token"])["sub"]
    )


def test_client_credentials_issues_a_management_token(tenant: Tenant) -> None:
    response = tenant.backend.client_credentials()
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    claims = claims_of(token)
    assert claims["aud"] == f"{tenant.server.url}/api" and claims["scope"] == "manage"
    assert claims["exp"] - claims["iat"] == 600
    assert tenant.backend.introspect(token).json()["active"] is True


def test_client_credentials_refuses_other_scopes(tenant: Tenant) -> None:
    response = tenant.backend.client_credentials(scope="chat")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"
    assert "access_token" not in response.json()


def test_discovery_and_jwks(tenant: Tenant) -> None:
    url = tenant.server.url
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        doc = requests.get(url + path, timeout=10).json()
        assert doc["issuer"] == url
        assert doc["token_endpoint"] == f"{url}/oauth/token"
        assert doc["code_challenge_methods_supported"] == ["S256"]
        assert "urn:ietf:params:oauth:grant-type:token-exchange" in doc["grant_types_supported"]
        assert {"client_secret_basic", "private_key_jwt", "none"} <= set(
            doc["token_endpoint_auth_methods_supported"]
        )
        assert "ES256" in doc["dpop_signing_alg_values_supported"]
    jwks = requests.get(f"{url}/oauth/jwks", timeout=10).json()
    assert len(jwks["keys"]) >= 2
    for key in jwks["keys"]:
        assert {"kid", "alg", "use"} <= key.keys() and key["use"] == "sig"
        assert "d" not in key


def test_bearer_session_without_dpop(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]], dpop_jkt=None)
    response = iframe.redeem(code, dpop=False)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    assert "cnf" not in claims_of(response.json()["access_token"])


def test_parameters_in_the_url_are_refused(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])
    in_url = requests.post(
        f"{tenant.server.url}/oauth/token?code={code}",
        data={
            "grant_type": "authorization_code",
            "client_id": tenant.client_id,
            "code_verifier": iframe.verifier,
            "origin": ORIGIN,
        },
        headers={"DPoP": iframe.proof()},
        timeout=10,
    )
    assert in_url.status_code == 400 and in_url.json()["error"] == "invalid_request"
    assert "never in the URL" in in_url.json()["error_description"]
    assert iframe.redeem(code).status_code == 200  # refused before the code was touched
