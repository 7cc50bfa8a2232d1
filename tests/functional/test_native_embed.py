"""Native app embedding: the per-client setting, the native page's headers, bridge-mode codes
bound to Chatframe's own origin, and the weaker fragment-mode codes."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import requests

from tests.conftest import Tenant, assert_refused
from tests.embed import Iframe
from tests.functional.conftest import ConsoleBrowser, run


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def set_native(tenant: Tenant, *, native: bool, fragment: bool = False) -> None:
    from authserver import registry
    from authserver.extensions import db

    with tenant.server.app.app_context():
        registry.update_client(
            registry.get_client(tenant.client_id), native_enabled=native, native_fragment=fragment
        )
        db.session.remove()


def native_iframe(tenant: Tenant) -> Iframe:
    """The native page: its origin is Chatframe's own."""
    return Iframe(tenant.server.url, tenant.client_id, tenant.server.url)


def fragment_code(tenant: Tenant, user: str = "alice") -> requests.Response:
    return tenant.backend.exchange(None, user, [tenant.bots["welcome"]], origin=tenant.server.url)


def test_native_page_is_404_until_the_client_enables_it(tenant: Tenant) -> None:
    url = f"{tenant.server.url}/embed/{tenant.client_id}/native"
    off = requests.get(url, timeout=10)
    assert off.status_code == 404 and "not enabled for this client" in off.text
    assert "frame-ancestors 'none'" in off.headers["Content-Security-Policy"]
    assert requests.get(f"{tenant.server.url}/embed/cf_nope/native", timeout=10).status_code == 404

    set_native(tenant, native=True)
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert page.headers["Cache-Control"] == "no-store"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    # The fragment is cleared by the very first script, before anything else runs.
    assert 'src="/embed-static/fragment.js"' in scripts[0][0]
    executable = [(a, b) for a, b in scripts if "application/json" not in a]
    assert all(body.strip() == "" and "src=" in attrs for attrs, body in executable)
    config = json.loads(re.search(r'id="chatframe-config">(.*?)</script>', page.text, re.S)[1])
    assert config == {
        "clientId": tenant.client_id,
        "issuer": tenant.server.url,
        "mode": "native",
        "nativeOrigin": tenant.server.url,
        "fragment": False,
    }


def test_bridge_code_for_the_native_origin_needs_native_enabled(tenant: Tenant) -> None:
    iframe = native_iframe(tenant)
    refused = tenant.backend.exchange(iframe, "alice", [tenant.bots["billing"]])
    body = assert_refused(refused, 400, "invalid_request")
    assert "native app embedding is not enabled" in body["error_description"]
    assert tenant.events("exchange_denied")[-1]["detail"]["reason"] == "origin"

    set_native(tenant, native=True)
    code = tenant.backend.code(iframe, "alice", [tenant.bots["billing"]])
    tokens = iframe.redeem(code)
    assert tokens.status_code == 200, tokens.text
    assert claims_of(tokens.json()["access_token"])["cnf"]["jkt"] == iframe.jkt
    # The code is PKCE- and DPoP-bound like any other: another key or verifier gets nothing.
    thief = native_iframe(tenant)
    stolen = tenant.backend.code(iframe, "alice", [tenant.bots["billing"]])
    assert_refused(thief.redeem(stolen), 400, "invalid_grant")


def test_fragment_codes_only_where_the_client_enables_the_fallback(tenant: Tenant) -> None:
    set_native(tenant, native=True)
    body = assert_refused(fragment_code(tenant), 400, "invalid_request")
    assert "code_challenge is required" in body["error_description"]
    assert "fragment" in body["error_description"]
    # Web origins never get codes without PKCE, whatever the client's native settings.
    set_native(tenant, native=True, fragment=True)
    web = tenant.backend.exchange(
        None, "alice", [tenant.bots["welcome"]], origin="http://localhost:5001"
    )
    assert (
        "code_challenge is required"
        in assert_refused(web, 400, "invalid_request")["error_description"]
    )
    with_jkt = tenant.backend.exchange(
        None,
        "alice",
        [tenant.bots["welcome"]],
        origin=tenant.server.url,
        dpop_jkt="NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
    )
    assert "dpop_jkt" in assert_refused(with_jkt, 400, "invalid_request")["error_description"]


def test_fragment_code_binds_the_first_redeemers_key_and_is_single_use(tenant: Tenant) -> None:
    set_native(tenant, native=True, fragment=True)
    response = fragment_code(tenant)
    assert response.status_code == 200 and response.json()["expires_in"] == 60
    assert tenant.events("code_issued")[-1]["detail"]["delivery"] == "fragment"
    page = native_iframe(tenant)
    no_proof = page.redeem(response.json()["access_token"], code_verifier=None, dpop=False)
    assert_refused(no_proof, 400, "invalid_dpop_proof")  # and that attempt spent the code

    code = fragment_code(tenant).json()["access_token"]
    tokens = page.redeem(code, code_verifier=None)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["token_type"] == "DPoP"
    assert claims_of(tokens.json()["access_token"])["cnf"]["jkt"] == page.jkt
    assert page.api("GET", f"/chat/api/bots/{tenant.bots['welcome']}").status_code == 200

    # A second use (say, a copy from a log) fails and ends the session the first one started.
    thief = native_iframe(tenant)
    assert_refused(thief.redeem(code, code_verifier=None), 400, "invalid_grant")
    assert_refused(page.refresh(), 400, "invalid_grant")


def test_fragment_code_refuses_a_verifier_a_web_origin_and_a_disabled_fallback(
    tenant: Tenant,
) -> None:
    set_native(tenant, native=True, fragment=True)
    page = native_iframe(tenant)
    with_verifier = page.redeem(fragment_code(tenant).json()["access_token"])
    assert (
        "without a code_verifier"
        in assert_refused(with_verifier, 400, "invalid_grant")["error_description"]
    )
    web = Iframe(tenant.server.url, tenant.client_id, "http://localhost:5001")
    assert_refused(
        web.redeem(fragment_code(tenant).json()["access_token"], code_verifier=None),
        400,
        "invalid_grant",
    )
    code = fragment_code(tenant).json()["access_token"]
    set_native(tenant, native=True, fragment=False)
    body = assert_refused(page.redeem(code, code_verifier=None), 400, "invalid_grant")
    assert "fragment fallback is not enabled" in body["error_description"]


def test_cli_switches_native_embedding_and_its_fragment_fallback(env: dict[str, str]) -> None:
    customer = json.loads(run(env, "customers", "create", "--name", "Acme", "--json").output)
    client = json.loads(
        run(
            env,
            "clients",
            "create",
            "--customer",
            customer["customer_id"],
            "--name",
            "app",
            "--origin",
            "https://app.example",
            "--json",
        ).output
    )["client_id"]
    refused = run(env, "clients", "update", client, "--native-fragment")
    assert refused.exit_code != 0 and "needs native app embedding" in refused.output
    assert "Traceback" not in refused.output
    both = run(env, "clients", "update", client, "--native", "--native-fragment")
    assert both.exit_code == 0 and "native apps bridge + fragment" in both.output
    off = run(env, "clients", "update", client, "--no-native")
    assert off.exit_code == 0 and "native apps off" in off.output
    again = run(env, "clients", "update", client, "--native")
    assert again.output.rstrip().endswith("native apps bridge")  # the fallback stayed off


def test_console_switches_native_apps_for_its_own_clients_only(
    owner: ConsoleBrowser, stranger: ConsoleBrowser, tenant: Tenant
) -> None:
    path = f"/console/clients/{tenant.client_id}"
    page = owner.get(path).text
    assert f"{tenant.server.url}/embed/{tenant.client_id}/native" in page
    assert (
        'name="native_enabled"' in page
        and "checked" not in page.split('id="native-form"')[1].split("</form>")[0]
    )

    refused = owner.post(f"{path}/native", {"native_fragment": "y"})
    assert refused.status_code == 400 and "needs native app embedding" in refused.text
    assert owner.post(f"{path}/native", {"native_enabled": "y"}).status_code == 302
    assert requests.get(f"{tenant.server.url}/embed/{tenant.client_id}/native", timeout=10).ok
    saved = owner.post(f"{path}/native", {"native_enabled": "y", "native_fragment": "y"})
    assert saved.status_code == 302
    assert fragment_code(tenant).status_code == 200

    assert stranger.post(f"{path}/native", {}).status_code == 404  # another customer's client
    assert fragment_code(tenant).status_code == 200
    assert owner.post(f"{path}/native", {}).status_code == 302
    native = requests.get(f"{tenant.server.url}/embed/{tenant.client_id}/native", timeout=10)
    assert native.status_code == 404


def test_install_page_has_a_bridge_snippet_for_each_platform(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    from tests.functional.test_console_install import install_page, snippet

    page = install_page(owner, tenant)
    assert "Native app WebViews are off for this client" in page
    native_url = f"{tenant.server.url}/embed/{tenant.client_id}/native"
    expected = {
        "swift": ["WKScriptMessageHandlerWithReply", 'name: "chatframe"', "isMainFrame"],
        "kotlin": ["WebViewCompat.addWebMessageListener", "setOf(CHATFRAME_ORIGIN)", "isMainFrame"],
        "react-native": ["react-native-webview", "webView.current?.postMessage", "onMessage"],
    }
    for name, needles in expected.items():
        code = snippet(page, name)
        assert native_url in code and f'"{tenant.server.url}"' in code, name
        assert all(needle in code for needle in needles), name
        assert '"request_id"' in code or "request_id:" in code, name  # echoed back
        assert "addJavascriptInterface(" not in code and "#code=" not in code, name

    set_native(tenant, native=True)
    assert "Native app WebViews are off" not in install_page(owner, tenant)


def test_the_webview_guide_shows_the_install_page_snippets() -> None:
    from pathlib import Path

    from authserver.console.snippets import snippets
    from chatapp.embed import sdk_build

    guide = (Path(__file__).resolve().parents[2] / "docs" / "webview.md").read_text()
    filled = snippets(
        "https://chat.example.com",
        "cf_YOUR_CLIENT_ID",
        "https://www.example.com",
        None,
        sdk_build(),
        "https://chat.example.com",
    )
    for code in (filled.swift, filled.kotlin, filled.react_native):
        assert code.rstrip() in guide


def test_chatframes_own_origin_cannot_be_registered_as_a_web_origin(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    response = owner.post(
        f"/console/clients/{tenant.client_id}", {"origins": tenant.server.url, "ip_allowlist": ""}
    )
    assert response.status_code == 400 and "turn on native app embedding" in response.text
