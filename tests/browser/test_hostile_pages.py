"""Attackers' pages in real Chromium: unregistered origins, forged messages, stolen codes."""

from __future__ import annotations

import json
import secrets
from typing import Any

import requests

from tests.browser.conftest import Stack
from tests.embed import Iframe

HARNESS = """<!doctype html><html><body>
<iframe id="cf" src="{embed}" width="400" height="500"></iframe>
<script>
  window.received = [];
  window.addEventListener("message", (event) => {{
    if (event.origin === "{chatframe}") window.received.push(event.data);
  }});
  window.post = (data) =>
    document.getElementById("cf").contentWindow.postMessage(data, "{chatframe}");
</script></body></html>"""


def harness(stack: Stack, pages: Any, path: str) -> str:
    embed = f"{stack.chatframe.url}/embed/{stack.client_id}"
    return pages.page(path, HARNESS.format(embed=embed, chatframe=stack.chatframe.url))


def token_responses(page: Any) -> list[int]:
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if r.url.endswith("/oauth/token") else None,
    )
    return statuses


def test_unregistered_origin_gets_no_chat(chat_stack: Stack, context: Any) -> None:
    page = context.new_page()
    page.goto(harness(chat_stack, chat_stack.hostile_pages, "/embed-directly"))
    page.wait_for_timeout(1500)
    frame = page.frames[1]
    assert frame.url.startswith("chrome-error://"), frame.url  # CSP frame-ancestors refused it
    assert page.frame_locator("#cf").locator("#chat").count() == 0


def test_sdk_on_unregistered_origin_explains_what_to_fix(chat_stack: Stack, context: Any) -> None:
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    url = chat_stack.hostile_pages.page(
        "/with-sdk",
        f"""<!doctype html><html><body><div id="chat"></div><script type="module">
          import {{ Chatframe }} from "{chat_stack.chatframe.url}/sdk/v1/chatframe.js";
          window.events = [];
          window.codeRequests = 0;
          Chatframe.mount("#chat", {{
            clientId: "{chat_stack.client_id}",
            getCode: () => {{ window.codeRequests++; return "x".repeat(43); }},
            onEvent: (event) => window.events.push(event),
          }});
        </script></body></html>""",
    )
    page.goto(url)
    page.wait_for_function("() => window.events && window.events.length > 0", timeout=10000)
    events = page.evaluate("() => window.events")
    assert events[0]["type"] == "ERROR" and events[0]["error"] == "origin_not_allowed"
    expected = (
        f"origin {chat_stack.hostile_pages.origin} is not registered for client "
        f"{chat_stack.client_id}"
    )
    assert expected in events[0]["error_description"]
    assert any(expected in line for line in errors)
    assert page.evaluate("() => window.codeRequests") == 0


def test_hostile_parent_gets_no_tokens_and_no_crash(chat_stack: Stack, context: Any) -> None:
    page = context.new_page()
    crashes: list[str] = []
    page.on("pageerror", lambda error: crashes.append(str(error)))
    statuses = token_responses(page)
    page.goto(harness(chat_stack, chat_stack.trusted_pages, "/hostile-parent"))
    page.frame_locator("#cf").locator("#chat").wait_for()

    # AUTH before any HELLO: ignored (no challenge was issued)
    page.evaluate("() => post({chatframe: 1, type: 'AUTH', code: 'A'.repeat(43)})")
    page.evaluate("() => post({chatframe: 1, type: 'HELLO'})")
    page.wait_for_function("() => received.some((m) => m.type === 'READY')")
    # a forged code: the iframe tries it and reports the failure, nothing else
    page.evaluate(
        f"() => post({{chatframe: 1, type: 'AUTH', code: '{secrets.token_urlsafe(32)}'}})"
    )
    page.wait_for_function("() => received.some((m) => m.type === 'AUTH_ERROR')", timeout=10000)

    garbage = [
        "HELLO",
        '{"chatframe":1,"type":"AUTH","code":"' + "B" * 43 + '"}',
        None,
        42,
        [],
        {"chatframe": 1},
        {"chatframe": 2, "type": "HELLO"},
        {"chatframe": 1, "type": "EVAL"},
        {"chatframe": 1, "type": "AUTH", "code": "<img src=x onerror=alert(1)>"},
        {"chatframe": 1, "type": "AUTH", "code": "C" * 43, "extra": True},
        {"chatframe": 1, "type": "LOGOUT", "payload": "x" * 20000},
        {"chatframe": 1, "type": "__proto__"},
    ]
    for message in garbage:
        page.evaluate("(m) => post(m)", message)
    page.wait_for_timeout(500)
    page.evaluate("() => { received.length = 0; post({chatframe: 1, type: 'HELLO'}); }")
    page.wait_for_function("() => received.some((m) => m.type === 'READY')")  # still alive

    received = page.evaluate("() => received")
    everything = json.dumps(page.evaluate("() => window.received")) + json.dumps(received)
    assert "AUTH_SUCCESS" not in everything and "token" not in everything.lower()
    assert 200 not in statuses  # the iframe never obtained tokens
    assert crashes == []


def test_messages_from_a_sibling_frame_are_ignored(chat_stack: Stack, context: Any) -> None:
    sibling = chat_stack.hostile_pages.page(
        "/sibling",
        """<!doctype html><script>
          const chat = parent.frames[0];
          chat.postMessage({chatframe: 1, type: "HELLO"}, "*");
          chat.postMessage({chatframe: 1, type: "AUTH", code: "D".repeat(43)}, "*");
        </script>""",
    )
    embed = f"{chat_stack.chatframe.url}/embed/{chat_stack.client_id}"
    page_url = chat_stack.trusted_pages.page(
        "/with-sibling",
        f"""<!doctype html><iframe id="cf" src="{embed}"></iframe>
        <script>
          window.received = [];
          addEventListener("message", (e) => window.received.push(e.data));
          document.getElementById("cf").addEventListener("load", () => {{
            const s = document.createElement("iframe");
            s.src = "{sibling}";
            document.body.append(s);
          }});
        </script>""",
    )
    page = context.new_page()
    statuses = token_responses(page)
    page.goto(page_url)
    page.frame_locator("#cf").locator("#chat").wait_for()
    page.wait_for_timeout(1500)
    assert page.evaluate("() => window.received") == []  # no READY: nobody was answered
    assert statuses == []


def test_stolen_code_cannot_be_redeemed_outside_the_iframe(chat_stack: Stack, context: Any) -> None:
    """An attacker who reads the code off the page has neither the verifier nor the DPoP key."""
    stolen: list[dict[str, Any]] = []

    def steal(route: Any) -> None:
        response = route.fetch()
        code = response.json()["code"]
        attacker = Iframe(chat_stack.chatframe.url, chat_stack.client_id, chat_stack.site_url)
        attempt = attacker.redeem(code)
        stolen.append({"code": code, "status": attempt.status_code, "body": attempt.json()})
        route.fulfill(response=response)

    page = context.new_page()
    page.route("**/chatframe/code", steal)
    page.goto(f"{chat_stack.site_url}/signin")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wonderland")
    page.get_by_role("button", name="Sign in").click()
    for _ in range(150):
        if stolen:
            break
        page.wait_for_timeout(100)
    assert stolen, "the page never asked for a code"
    assert stolen[0]["status"] == 400 and stolen[0]["body"]["error"] == "invalid_grant"
    assert "access_token" not in stolen[0]["body"]
    # the code is burnt for everyone now, including a second thief with other guesses
    replay = requests.post(
        f"{chat_stack.chatframe.url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": stolen[0]["code"],
            "client_id": chat_stack.client_id,
            "code_verifier": secrets.token_urlsafe(48),
            "origin": chat_stack.site_url,
        },
        timeout=10,
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
