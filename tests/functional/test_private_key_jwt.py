"""private_key_jwt client authentication and JWT subject tokens, signed by the client's key."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from joserfc.jwk import ECKey, KeySet

from tests.conftest import Tenant, assert_refused
from tests.embed import ASSERTION_TYPE, JWT_TYPE, signed_jwt


@pytest.fixture
def client_key(tenant: Tenant) -> ECKey:
    from authserver import registry

    key = ECKey.generate_key("P-256")
    with tenant.server.app.app_context():
        registry.set_client_jwks(
            registry.get_client(tenant.client_id), KeySet([key]).as_dict(private=False)
        )
    return key


def assertion(tenant: Tenant, key: ECKey, **overrides: Any) -> dict[str, str]:
    claims = {
        "iss": tenant.client_id,
        "sub": tenant.client_id,
        "aud": f"{tenant.server.url}/oauth/token",
        "exp": int(time.time()) + 60,
        "jti": secrets.token_urlsafe(12),
    }
    claims.update(overrides)
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed_jwt(key, claims)}


def test_private_key_jwt_authenticates(tenant: Tenant, client_key: ECKey) -> None:
    response = tenant.backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], auth=assertion(tenant, client_key)
    )
    assert response.status_code == 200, response.text


def test_private_key_jwt_replayed_jti(tenant: Tenant, client_key: ECKey) -> None:
    auth = assertion(tenant, client_key)
    bots = [tenant.bots["welcome"]]
    assert tenant.backend.exchange(tenant.iframe(), "alice", bots, auth=auth).status_code == 200
    response = tenant.backend.exchange(tenant.iframe(), "alice", bots, auth=auth)
    assert "already used" in assert_refused(response, 401, "invalid_client")["error_description"]


def test_private_key_jwt_wrong_aud(tenant: Tenant, client_key: ECKey) -> None:
    auth = assertion(tenant, client_key, aud="https://other.example/oauth/token")
    response = tenant.backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], auth=auth
    )
    assert "aud" in assert_refused(response, 401, "invalid_client")["error_description"]


def test_private_key_jwt_with_another_key(tenant: Tenant, client_key: ECKey) -> None:
    auth = assertion(tenant, ECKey.generate_key("P-256"))
    response = tenant.backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], auth=auth
    )
    assert_refused(response, 401, "invalid_client")


def test_private_key_jwt_expired_or_too_long(tenant: Tenant, client_key: ECKey) -> None:
    bots = [tenant.bots["welcome"]]
    for exp in (int(time.time()) - 120, int(time.time()) + 3600):
        auth = assertion(tenant, client_key, exp=exp)
        response = tenant.backend.exchange(tenant.iframe(), "alice", bots, auth=auth)
        assert_refused(response, 401, "invalid_client")


def test_private_key_jwt_for_client_without_jwks(tenant: Tenant) -> None:
    auth = assertion(tenant, ECKey.generate_key("P-256"))
    response = tenant.backend.exchange(
        tenant.iframe(), "alice", [tenant.bots["welcome"]], auth=auth
    )
    assert "JWKS" in assert_refused(response, 401, "invalid_client")["error_description"]


def subject_jwt(tenant: Tenant, key: ECKey, **overrides: Any) -> str:
    """A subject token; an override of None leaves that claim out."""
    claims = {
        "iss": tenant.client_id,
        "sub": "alice",
        "aud": tenant.server.url,
        "exp": int(time.time()) + 120,
        "jti": secrets.token_urlsafe(12),
        "amr": ["pwd", "mfa"],
        "name": "Alice Example",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return signed_jwt(key, claims)


def test_jwt_subject_token_carries_amr_for_mfa_bots(tenant: Tenant, client_key: ECKey) -> None:
    from authserver import registry
    from tests.functional.test_embed_flow import claims_of

    with tenant.server.app.app_context():
        registry.update_bot(registry.get_bot(tenant.bots["billing"]), require_mfa=True)
    iframe = tenant.iframe()
    code = tenant.backend.code(
        iframe,
        subject_jwt(tenant, client_key),
        [tenant.bots["billing"]],
        subject_token_type=JWT_TYPE,
    )
    response = iframe.redeem(code)
    assert response.status_code == 200, response.text
    assert "mfa" in claims_of(response.json()["id_token"])["amr"]
    # without mfa in amr the same bot is refused
    refused = tenant.backend.exchange(
        tenant.iframe(),
        subject_jwt(tenant, client_key, amr=["pwd"]),
        [tenant.bots["billing"]],
        subject_token_type=JWT_TYPE,
    )
    assert_refused(refused, 400, "invalid_target")


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://other.example"},
        {"iss": "cf_someoneelse"},
        {"exp": int(time.time()) + 3600},
        {"jti": None},
    ],
)
def test_jwt_subject_token_refusals(tenant: Tenant, client_key: ECKey, overrides: dict) -> None:
    token = subject_jwt(tenant, client_key, **overrides)
    response = tenant.backend.exchange(
        tenant.iframe(), token, [tenant.bots["welcome"]], subject_token_type=JWT_TYPE
    )
    assert_refused(response, 400, "invalid_request")


def test_jwt_subject_token_replayed(tenant: Tenant, client_key: ECKey) -> None:
    token = subject_jwt(tenant, client_key)
    bots = [tenant.bots["welcome"]]
    first = tenant.backend.exchange(tenant.iframe(), token, bots, subject_token_type=JWT_TYPE)
    assert first.status_code == 200, first.text
    again = tenant.backend.exchange(tenant.iframe(), token, bots, subject_token_type=JWT_TYPE)
    assert "already used" in assert_refused(again, 400, "invalid_request")["error_description"]
