"""The Install page: snippets filled in for the chosen client, and each one really works."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import OTHER_ORIGIN, Tenant, service_unavailable
from tests.functional.conftest import ConsoleBrowser

MOUNT_OPTIONS = """\
    clientId: "{CLIENT_ID}",
    async getCode({ codeChallenge, codeChallengeMethod, dpopJkt, origin }) {
      const response = await fetch("/chatframe/code", {   // your backend endpoint
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ codeChallenge, codeChallengeMethod, dpopJkt, origin }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        // your backend passes Chatframe's error_description on: it names the fix
        throw new Error(body.error_description || `/chatframe/code answered ${response.status}`);
      }
      return body.code;
    },
    onEvent(event) {
      // every message from the chat; ERROR and AUTH_ERROR say what went wrong and how to fix it
      if (event.type === "ERROR" || event.type === "AUTH_ERROR") {
        console.warn("Chatframe:", event.error, event.error_description);
      }
    },
  });
</script>
"""

PAGE_SCRIPT = (
    """\
<div id="chat"></div>
<script src="{ISSUER}/sdk/v1/chatframe.js"></script>
<script>
  Chatframe.mount("#chat", {
"""
    + MOUNT_OPTIONS
)

PAGE_MODULE = (
    """\
<div id="chat"></div>
<script type="module">
  import { Chatframe } from "{ISSUER}/sdk/v1/chatframe.js";
  Chatframe.mount("#chat", {
"""
    + MOUNT_OPTIONS
)


def snippet(page: str, name: str) -> str:
    match = re.search(rf'<code id="snippet-{name}">(.*?)</code>', page, re.S)
    assert match, f"no {name} snippet"
    return html.unescape(match.group(1))


def install_page(owner: ConsoleBrowser, tenant: Tenant, **params: str) -> str:
    response = owner.get("/console/install", client=tenant.client_id, **params)
    assert response.status_code == 200
    return response.text


def test_the_page_script_is_the_sdk_contract(owner: ConsoleBrowser, tenant: Tenant) -> None:
    page = install_page(owner, tenant)
    for name, template in (("page", PAGE_SCRIPT), ("module", PAGE_MODULE)):
        expected = template.replace("{ISSUER}", tenant.server.settings.issuer).replace(
            "{CLIENT_ID}", tenant.client_id
        )
        assert snippet(page, name) == expected, name
    # the script-tag form comes first: it is what tag managers and most pages use
    assert page.index('id="snippet-page"') < page.index('id="snippet-module"')


def test_the_pinned_script_tag_matches_what_is_served(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    import requests

    from chatapp.sdk_bundle import integrity

    tag = snippet(install_page(owner, tenant), "pinned")
    match = re.search(r'src="([^"]+)"\s+integrity="([^"]+)" crossorigin="anonymous"', tag)
    assert match, tag
    src, expected = match.groups()
    assert re.fullmatch(
        re.escape(tenant.server.settings.issuer) + r"/sdk/v1\.[0-9a-f]{12}/chatframe\.js", src
    )
    served = requests.get(src, timeout=10)
    assert served.status_code == 200 and integrity(served.text) == expected


def test_snippets_follow_the_chosen_origin_and_bot(owner: ConsoleBrowser, tenant: Tenant) -> None:
    page = install_page(owner, tenant, origin=OTHER_ORIGIN, bot=tenant.bots["support"])
    for name in ("curl", "python", "node"):
        code = snippet(page, name)
        assert tenant.client_id in code and tenant.server.settings.issuer in code, name
        assert OTHER_ORIGIN in code and tenant.bots["support"] in code, name
        assert tenant.client_secret not in code, name
    unknown_origin = install_page(owner, tenant, origin="https://evil.example")
    assert "https://evil.example" not in unknown_origin  # only the client's own origins


def test_the_native_section_links_to_the_webview_guide(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    page = install_page(owner, tenant)
    native = page[page.index('id="step-native"') :]
    link = re.search(r'<a href="([^"]+)" id="webview-guide">', native)
    assert link, "the native section does not link to the WebView guide"
    guide = owner.get(link.group(1))
    assert guide.status_code == 200 and "WebView" in guide.text


def test_the_csp_note_matches_the_csp_guide(owner: ConsoleBrowser, tenant: Tenant) -> None:
    page = install_page(owner, tenant)
    note = re.search(r'<p class="muted" id="csp-note">(.*?)</p>', page, re.S)
    assert note, "no CSP note"
    text = note.group(1)
    assert "<code>script-src</code> and <code>frame-src</code>" in text
    assert "<code>connect-src</code> is optional" in text  # as docs/csp.md says
    for name in ("csp", "sdk", "errors"):
        assert f'href="/docs/{name}"' in text
        assert owner.get(f"/docs/{name}").status_code == 200


def test_without_clients_the_page_says_what_to_do(tenant: Tenant) -> None:
    from authserver import registry
    from authserver.extensions import db
    from tests.functional.conftest import create_console_user

    with tenant.server.app.app_context():
        lonely = registry.create_customer("No clients yet")
        db.session.remove()
    lonely_tenant = Tenant(tenant.server, lonely.id, "", "")
    browser = ConsoleBrowser(tenant.server)
    browser.sign_in(create_console_user(lonely_tenant))
    page = browser.get("/console/install")
    assert page.status_code == 200 and "Create a client first" in page.text


@pytest.fixture
def secret_env(tenant: Tenant) -> dict[str, str]:
    return {**os.environ, "CHATFRAME_CLIENT_SECRET": tenant.client_secret}


def redeemable(tenant: Tenant, code: str, iframe: Any) -> None:
    response = iframe.redeem(code)
    assert response.status_code == 200, response.text


def test_the_curl_snippet_gets_a_code(
    owner: ConsoleBrowser, tenant: Tenant, secret_env: dict[str, str]
) -> None:
    if not shutil.which("curl"):
        service_unavailable("curl", FileNotFoundError("curl"))
    command = snippet(install_page(owner, tenant, bot=tenant.bots["billing"]), "curl")
    result = subprocess.run(
        ["bash", "-c", command], env=secret_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert '"issued_token_type":"urn:chatframe:token-type:embed-code"' in result.stdout.replace(
        " ", ""
    )


def test_the_python_snippet_gets_a_redeemable_code(
    owner: ConsoleBrowser, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = snippet(install_page(owner, tenant, bot=tenant.bots["billing"]), "python")
    monkeypatch.setenv("CHATFRAME_CLIENT_SECRET", tenant.client_secret)
    namespace: dict[str, Any] = {}
    exec(compile(source, "install-snippet.py", "exec"), namespace)  # noqa: S102 - our own page
    iframe = tenant.iframe()
    code = namespace["embed_code"]("alice", [tenant.bots["billing"]], iframe.challenge, iframe.jkt)
    redeemable(tenant, code, iframe)


def test_the_python_snippet_passes_chatframes_reason_on(
    owner: ConsoleBrowser, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = snippet(install_page(owner, tenant, bot=tenant.bots["billing"]), "python")
    monkeypatch.setenv("CHATFRAME_CLIENT_SECRET", "cfs_rotated_long_ago")
    namespace: dict[str, Any] = {}
    exec(compile(source, "install-snippet.py", "exec"), namespace)  # noqa: S102 - our own page
    iframe = tenant.iframe()
    with pytest.raises(namespace["ChatframeError"]) as refused:
        namespace["embed_code"]("alice", [tenant.bots["billing"]], iframe.challenge, iframe.jkt)
    assert refused.value.error == "invalid_client"
    assert "the client secret is wrong or was rotated" in refused.value.description


def test_the_curl_snippet_prints_the_reason_and_fails(
    owner: ConsoleBrowser, tenant: Tenant, secret_env: dict[str, str]
) -> None:
    if not shutil.which("curl"):
        service_unavailable("curl", FileNotFoundError("curl"))
    command = snippet(install_page(owner, tenant, bot=tenant.bots["billing"]), "curl")
    env = {**secret_env, "CHATFRAME_CLIENT_SECRET": "cfs_rotated_long_ago"}
    result = subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "the client secret is wrong or was rotated" in result.stdout


def test_the_node_snippet_passes_chatframes_reason_on(
    owner: ConsoleBrowser, tenant: Tenant, secret_env: dict[str, str], tmp_path: Path
) -> None:
    if not shutil.which("node"):
        service_unavailable("Node.js", FileNotFoundError("node"))
    source = snippet(install_page(owner, tenant, bot=tenant.bots["support"]), "node")
    iframe = tenant.iframe()
    script = tmp_path / "backend.mjs"
    script.write_text(
        source
        + f"\ntry {{ await embedCode('alice', ['{tenant.bots['support']}'], "
        + f"{{ codeChallenge: '{iframe.challenge}', dpopJkt: '{iframe.jkt}' }}); }}"
        + " catch (error) { console.log(error instanceof ChatframeError, error.error,"
        + " error.description); }\n"
    )
    result = subprocess.run(
        ["node", str(script)], env=secret_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("true invalid_target ")
    assert "partner user alice is not a member of" in result.stdout


def test_the_node_snippet_gets_a_redeemable_code(
    owner: ConsoleBrowser, tenant: Tenant, secret_env: dict[str, str], tmp_path: Path
) -> None:
    if not shutil.which("node"):
        service_unavailable("Node.js", FileNotFoundError("node"))
    source = snippet(install_page(owner, tenant, bot=tenant.bots["billing"]), "node")
    iframe = tenant.iframe()
    script = tmp_path / "backend.mjs"
    script.write_text(
        source
        + f"\nconsole.log(await embedCode('alice', ['{tenant.bots['billing']}'], "
        + f"{{ codeChallenge: '{iframe.challenge}', dpopJkt: '{iframe.jkt}' }}));\n"
    )
    result = subprocess.run(
        ["node", str(script)], env=secret_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    redeemable(tenant, result.stdout.strip(), iframe)
