"""Garbage in never gets a 500, a stack trace or an echoed secret: always a clear OAuth error."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from flask import Flask

from tests.conftest import ORIGIN, Tenant

GARBAGE_FORMS = [
    {},
    {"grant_type": ""},
    {"grant_type": "authorization_code"},
    {"grant_type": "authorization_code", "client_id": "cf_" + "x" * 500, "code": "x"},
    {"grant_type": "authorization_code", "client_id": "\x00\x01", "code": "x"},
    {"grant_type": "refresh_token", "client_id": "cf_unknown", "refresh_token": "cfr_" + "a" * 43},
    {"grant_type": "client_credentials"},
    {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "client_assertion": "a.b.c",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    },
    {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "client_assertion": "x" * 5000,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    },
]


@pytest.mark.parametrize("form", GARBAGE_FORMS)
def test_garbage_forms_get_oauth_errors(tenant: Tenant, form: dict) -> None:
    response = requests.post(f"{tenant.server.url}/oauth/token", data=form, timeout=10)
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["error"] and body["error_description"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + "QQ=="},
        {"Authorization": "Bearer something"},
        {"DPoP": "not.a.jwt"},
        {"DPoP": "x" * 9000},
    ],
)
def test_garbage_headers_get_oauth_errors(tenant: Tenant, headers: dict) -> None:
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": iframe.verifier,
        "client_id": tenant.client_id,
        "origin": ORIGIN,
    }
    response = requests.post(
        f"{tenant.server.url}/oauth/token", data=form, headers=headers, timeout=10
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]


def test_repeated_parameters_are_refused(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    response = requests.post(
        f"{tenant.server.url}/oauth/token",
        data=[
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("subject_token", "alice"),
            ("subject_token", "bob"),
            ("subject_token_type", "urn:chatframe:token-type:partner-user-id"),
            ("scope", f"bot:{tenant.bots['welcome']}"),
            ("origin", iframe.origin),
            ("code_challenge", iframe.challenge),
            ("code_challenge_method", "S256"),
        ],
        auth=(tenant.client_id, tenant.client_secret),
        timeout=10,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_wrong_method_body_size_and_unknown_path_are_json(tenant: Tenant) -> None:
    url = tenant.server.url
    assert requests.get(f"{url}/oauth/token", timeout=10).json()["error"] == "method_not_allowed"
    assert requests.get(f"{url}/nope", timeout=10).json()["error"] == "not_found"
    big = requests.post(f"{url}/oauth/token", data={"x": "y" * 200_000}, timeout=10)
    assert big.status_code == 413 and big.json()["error"] == "request_too_large"


def test_errors_never_echo_the_secret(tenant: Tenant) -> None:
    wrong = tenant.client_secret[:-4] + "AAAA"
    response = requests.post(
        f"{tenant.server.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "scope": "manage",
            "client_id": tenant.client_id,
            "client_secret": wrong,
        },
        timeout=10,
    )
    assert response.status_code == 401
    assert wrong not in response.text and tenant.client_secret not in response.text


@pytest.fixture
def proxied_app(tmp_path: Path) -> Flask:
    from flask_migrate import upgrade

    from authserver import create_app
    from authserver.config import Settings

    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path}/p.db", keys_dir=tmp_path / "keys", trusted_proxies=1
        ),
        ensure_keys=False,
    )
    with app.app_context():
        upgrade()
        app.extensions["chatframe"].keys.ensure()
    return app


def _exchange_from(app: Flask, remote: str, forwarded: str | None) -> int:
    from authserver import registry

    with app.app_context():
        customer = registry.create_customer("Proxied")
        client, secret = registry.create_client(customer, "web", [ORIGIN], ["203.0.113.0/24"])
        bot = registry.create_bot(customer, "Welcome", access="all_users")
        client_id, bot_id = client.id, bot.id
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    response = app.test_client().post(
        "/oauth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": "alice",
            "subject_token_type": "urn:chatframe:token-type:partner-user-id",
            "scope": f"bot:{bot_id}",
            "origin": ORIGIN,
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
        headers=headers,
        auth=(client_id, secret),
        environ_base={"REMOTE_ADDR": remote},
    )
    return response.status_code


def test_trusted_proxy_hop_supplies_the_client_ip(proxied_app: Flask) -> None:
    # the proxy (10.0.0.2) says the caller is 203.0.113.9: inside the allowlist
    assert _exchange_from(proxied_app, "10.0.0.2", "203.0.113.9") == 200
    # a caller that forges extra hops gets only the hop the proxy appended
    assert _exchange_from(proxied_app, "10.0.0.2", "203.0.113.9, 198.51.100.7") == 401


def test_forwarded_header_is_ignored_without_trusted_proxies(tenant: Tenant) -> None:
    from tests.conftest import make_tenant

    fenced = make_tenant(tenant.server, ips=("203.0.113.0/24",))
    response = requests.post(
        f"{tenant.server.url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "manage"},
        auth=(fenced.client_id, fenced.client_secret),
        headers={"X-Forwarded-For": "203.0.113.9"},
        timeout=10,
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
