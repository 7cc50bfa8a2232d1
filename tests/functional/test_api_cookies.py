"""Outside the console, no session cookie is read or written: the token endpoint and the APIs
are cookie-free, whatever cookie a caller sends (and they skip the signing work)."""

from __future__ import annotations

import requests

from tests.conftest import Tenant


def test_the_token_endpoint_neither_reads_nor_sets_a_console_cookie(tenant: Tenant) -> None:
    forged = {"chatframe_console": "eyJfdXNlcl9pZCI6IjEifQ.forged.signature"}
    response = requests.post(
        f"{tenant.server.url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "manage"},
        auth=(tenant.client_id, tenant.client_secret),
        cookies=forged,
        timeout=30,
    )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    token = response.json()["access_token"]
    api = requests.get(
        f"{tenant.server.url}/api/v1/bots",
        headers={"Authorization": f"Bearer {token}"},
        cookies=forged,
        timeout=30,
    )
    assert api.status_code == 200 and "Set-Cookie" not in api.headers


def test_the_console_still_keeps_its_session(tenant: Tenant) -> None:
    page = requests.get(f"{tenant.server.url}/console/login", timeout=30)
    assert page.status_code == 200
    cookie = page.cookies.get("chatframe_console", path="/console")
    assert cookie, page.headers.get("Set-Cookie")  # the CSRF token lives in the session
