"""The embed page's headers and contents, and the SDK's static files."""

from __future__ import annotations

import json
import re

import requests

from tests.conftest import ORIGIN, OTHER_ORIGIN, Tenant


def test_embed_page_may_be_framed_by_allowed_origins_only(tenant: Tenant) -> None:
    response = requests.get(f"{tenant.server.url}/embed/{tenant.client_id}", timeout=10)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors {ORIGIN} {OTHER_ORIGIN}" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert "X-Frame-Options" not in response.headers


def test_embed_page_scripts_are_external_only(tenant: Tenant) -> None:
    html = requests.get(f"{tenant.server.url}/embed/{tenant.client_id}", timeout=10).text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    executable = [(attrs, body) for attrs, body in scripts if "application/json" not in attrs]
    assert executable and all(body.strip() == "" and "src=" in attrs for attrs, body in executable)
    config = json.loads(re.search(r'id="chatframe-config">(.*?)</script>', html, re.S).group(1))
    assert config == {
        "clientId": tenant.client_id,
        "issuer": tenant.server.url,
        "allowedOrigins": [ORIGIN, OTHER_ORIGIN],
    }


def test_unknown_or_disabled_client_is_404_and_unframeable(tenant: Tenant) -> None:
    from authserver import registry

    for client_id in ("cf_doesnotexist", "not-a-client", "cf_" + "x" * 60):
        response = requests.get(f"{tenant.server.url}/embed/{client_id}", timeout=10)
        assert response.status_code == 404
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    with tenant.server.app.app_context():
        registry.update_client(registry.get_client(tenant.client_id), enabled=False)
    response = requests.get(f"{tenant.server.url}/embed/{tenant.client_id}", timeout=10)
    assert response.status_code == 404
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_status_tells_the_sdk_whether_its_origin_is_registered(tenant: Tenant) -> None:
    url = f"{tenant.server.url}/embed/{tenant.client_id}/status"
    ok = requests.get(url, headers={"Origin": ORIGIN}, timeout=10)
    assert ok.json() == {"client": True, "origin_allowed": True}
    assert ok.headers["Access-Control-Allow-Origin"] == "*"
    bad = requests.get(url, headers={"Origin": "https://evil.example"}, timeout=10)
    assert bad.json() == {"client": True, "origin_allowed": False}
    missing = requests.get(f"{tenant.server.url}/embed/cf_nope/status", timeout=10)
    assert missing.json() == {"client": False, "origin_allowed": False}


def test_sdk_is_served_cross_origin_as_a_module(tenant: Tenant) -> None:
    for name in ("chatframe.js", "protocol.js"):
        response = requests.get(
            f"{tenant.server.url}/sdk/v1/{name}",
            headers={"Sec-Fetch-Mode": "cors", "Origin": ORIGIN},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    types = requests.get(f"{tenant.server.url}/sdk/v1/chatframe.d.ts", timeout=10)
    assert types.status_code == 200 and "MountOptions" in types.text
    assert (
        requests.get(f"{tenant.server.url}/sdk/v1/../../pyproject.toml", timeout=10).status_code
        == 404
    )
    assert requests.get(f"{tenant.server.url}/sdk/v1/other.js", timeout=10).status_code == 404


def sdk_variant(tenant: Tenant, headers: dict[str, str]) -> str:
    response = requests.get(f"{tenant.server.url}/sdk/v1/chatframe.js", headers=headers, timeout=10)
    assert response.status_code == 200
    vary = {v.strip() for v in response.headers["Vary"].split(",")}
    assert {"Sec-Fetch-Mode", "Origin"} <= vary  # caches keep the two forms apart
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    has_export = re.search(r"^export ", response.text, re.M) is not None
    has_import = re.search(r"^import ", response.text, re.M) is not None
    assert not has_import  # both forms are self-contained
    return "module" if has_export else "classic"


def test_one_sdk_url_serves_a_module_or_a_classic_script_as_the_page_asks(tenant: Tenant) -> None:
    # what Chromium sends for <script type="module"> / import() and for a plain <script src>
    assert sdk_variant(tenant, {"Sec-Fetch-Mode": "cors", "Origin": ORIGIN}) == "module"
    assert sdk_variant(tenant, {"Sec-Fetch-Mode": "no-cors"}) == "classic"
    # browsers without Fetch Metadata: a CORS (module) request is the one with an Origin
    assert sdk_variant(tenant, {"Origin": ORIGIN}) == "module"
    assert sdk_variant(tenant, {}) == "classic"


def test_versioned_sdk_urls_are_immutable_and_match_their_integrity(tenant: Tenant) -> None:
    from chatapp.embed import sdk_build
    from chatapp.sdk_bundle import integrity

    with tenant.server.app.app_context():
        built = sdk_build()
    assert re.fullmatch(r"v1\.[0-9a-f]{12}", built.version)
    base = f"{tenant.server.url}/sdk/{built.version}"
    for name, wanted in (
        ("chatframe.js", built.classic_integrity),
        ("chatframe.mjs", built.module_integrity),
    ):
        # the form is fixed by the file name, whatever the request looks like
        response = requests.get(f"{base}/{name}", headers={"Sec-Fetch-Mode": "cors"}, timeout=10)
        assert response.status_code == 200
        assert integrity(response.text) == wanted
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Content-Type"].startswith("text/javascript")
    assert "window.Chatframe" in requests.get(f"{base}/chatframe.js", timeout=10).text
    for missing in ("/sdk/v1.000000000000/chatframe.js", f"/sdk/{built.version}/protocol.js"):
        assert requests.get(f"{tenant.server.url}{missing}", timeout=10).status_code == 404


def test_iframe_static_files(tenant: Tenant) -> None:
    for name in ("main.js", "dpop.js", "session.js", "ui.js", "chat.css"):
        assert (
            requests.get(f"{tenant.server.url}/embed-static/{name}", timeout=10).status_code == 200
        )
    assert (
        requests.get(
            f"{tenant.server.url}/embed-static/../authserver/config.py", timeout=10
        ).status_code
        == 404
    )
