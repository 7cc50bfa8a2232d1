"""Clients in the console: the secret shown once, origins and IPs, rotation with a grace, JWKS."""

from __future__ import annotations

import json
import re
import time

import requests
from joserfc.jwk import ECKey

from authserver.extensions import db
from tests.conftest import ORIGIN, Tenant, assert_refused
from tests.embed import Backend
from tests.functional.conftest import YES, ConsoleBrowser


def create_client(owner: ConsoleBrowser, **fields: str) -> requests.Response:
    form = {"name": "Marketing site", "origins": "https://www.acme.example", **fields}
    return owner.post("/console/clients/new", form)


def shown(response: requests.Response, element: str) -> str:
    match = re.search(rf'id="{element}"[^>]*>([^<]+)<', response.text)
    assert match, f"no #{element} on the page"
    return match.group(1)


def test_a_new_client_shows_its_secret_once_and_it_works(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    response = create_client(owner, origins="http://localhost:5001\nhttps://App.Acme.example:443/")
    assert response.status_code == 200
    client_id, secret = shown(response, "client-id"), shown(response, "client-secret")
    assert client_id.startswith("cf_") and secret.startswith("cfs_")
    assert "only time the secret is shown" in response.text
    backend = Backend(tenant.server.url, client_id, secret)
    assert backend.client_credentials().status_code == 200
    page = owner.get(f"/console/clients/{client_id}")
    assert "https://app.acme.example" in page.text  # normalised
    for path in (
        "/console/",
        "/console/clients",
        f"/console/clients/{client_id}",
        "/console/install",
    ):
        assert secret not in owner.get(path).text
    assert client_id in owner.get("/console/clients").text


def test_bad_origins_are_explained_and_nothing_is_created(owner: ConsoleBrowser) -> None:
    cases = {
        "https://app.acme.example/checkout": "drop the path",
        "https://*.acme.example": "wildcards are not allowed",
        "app.acme.example": "is not an origin",
        "   ": "at least one allowed origin",
    }
    for origins, message in cases.items():
        response = create_client(owner, name="Bad origins", origins=origins)
        assert response.status_code == 400, origins
        assert message in response.text, origins
    response = create_client(owner, name="Bad IP", ip_allowlist="10.0.0.300/8")
    assert response.status_code == 400
    assert "is not an IP address or CIDR block" in response.text
    listing = owner.get("/console/clients").text
    assert "Bad origins" not in listing and "Bad IP" not in listing


def test_production_requires_https_origins(owner: ConsoleBrowser) -> None:
    owner.server.configure(env="production")
    response = create_client(owner, origins="http://www.acme.example")
    assert response.status_code == 400
    assert "production requires https:// origins" in response.text
    assert create_client(owner, origins="https://www.acme.example").status_code == 200


def test_origins_and_ip_allowlist_take_effect(owner: ConsoleBrowser, tenant: Tenant) -> None:
    path = f"/console/clients/{tenant.client_id}"
    fenced = owner.post(
        path, {"origins": "https://shop.acme.example", "ip_allowlist": "10.0.0.0/8"}
    )
    assert fenced.status_code == 302
    page = owner.get(path).text
    assert "https://shop.acme.example" in page and "10.0.0.0/8" in page
    body = assert_refused(
        tenant.backend.exchange(tenant.iframe(), "alice", [tenant.bots["billing"]]),
        401,
        "invalid_client",
    )
    assert "allowlist" in body["error_description"]

    opened = owner.post(path, {"origins": ORIGIN, "ip_allowlist": "127.0.0.1"})
    assert opened.status_code == 302
    assert tenant.backend.exchange(tenant.iframe(), "alice", [tenant.bots["billing"]]).ok
    wrong_origin = tenant.backend.exchange(
        tenant.iframe("https://shop.acme.example"), "alice", [tenant.bots["billing"]]
    )
    assert_refused(wrong_origin, 400, "invalid_request")

    bad = owner.post(path, {"origins": ORIGIN, "ip_allowlist": "everyone"})
    assert bad.status_code == 400 and "is not an IP address or CIDR block" in bad.text


def test_rotation_keeps_the_old_secret_for_the_grace_period(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    old = tenant.backend
    response = owner.post(f"/console/clients/{tenant.client_id}/rotate-secret", {"grace": 2})
    assert response.status_code == 200
    assert "keeps working for 2 seconds" in response.text
    new = Backend(tenant.server.url, tenant.client_id, shown(response, "client-secret"))
    assert new.client_secret != old.client_secret
    assert old.client_credentials().status_code == 200
    assert new.client_credentials().status_code == 200
    time.sleep(2.2)
    assert_refused(old.client_credentials(), 401, "invalid_client")
    assert new.client_credentials().status_code == 200
    rotated = tenant.events("secret_rotated")[-1]
    assert rotated["detail"] == {"grace_seconds": 2}
    assert new.client_secret not in json.dumps(tenant.events())


def test_rotation_without_grace_stops_the_old_secret_at_once(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    response = owner.post(f"/console/clients/{tenant.client_id}/rotate-secret", {"grace": 0})
    assert "stopped working immediately" in response.text
    assert_refused(tenant.backend.client_credentials(), 401, "invalid_client")
    too_long = owner.post(f"/console/clients/{tenant.client_id}/rotate-secret", {"grace": -5})
    assert too_long.status_code == 400 and "Number must be between" in too_long.text


def stored_jwks(tenant: Tenant) -> object:
    from authserver.models import Client

    with tenant.server.app.app_context():
        client = db.session.get(Client, tenant.client_id)
        jwks = client.jwks if client else None
        db.session.remove()
    return jwks


def test_jwks_registration(owner: ConsoleBrowser, tenant: Tenant) -> None:
    path = f"/console/clients/{tenant.client_id}/jwks"
    key = ECKey.generate_key("P-256", parameters={"kid": "backend-1"})
    private = owner.post(path, {"jwks": json.dumps({"keys": [key.as_dict(private=True)]})})
    assert private.status_code == 400 and "contains private keys" in private.text
    not_json = owner.post(path, {"jwks": "{keys: nope"})
    assert not_json.status_code == 400 and "That is not JSON" in not_json.text
    assert stored_jwks(tenant) is None

    public = owner.post(path, {"jwks": json.dumps({"keys": [key.as_dict(private=False)]})})
    assert public.status_code == 302
    jwks = stored_jwks(tenant)
    assert isinstance(jwks, dict) and jwks["keys"][0]["kid"] == "backend-1"
    assert "backend-1" in owner.get(f"/console/clients/{tenant.client_id}").text

    assert owner.post(path, {"jwks": ""}).status_code == 302
    assert stored_jwks(tenant) is None


def test_a_disabled_client_gets_nothing_until_enabled(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    base = f"/console/clients/{tenant.client_id}"
    assert owner.post(base + "/disable", YES).status_code == 302
    assert "Disabled" in owner.get("/console/clients").text
    assert_refused(tenant.backend.client_credentials(), 401, "invalid_client")
    assert owner.post(base + "/enable").status_code == 302
    assert tenant.backend.client_credentials().status_code == 200
