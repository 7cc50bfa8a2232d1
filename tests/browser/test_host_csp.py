"""The host-page CSP that docs/csp.md recommends is enough for the chat to work."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Stack

CSP_DOC = Path(__file__).resolve().parents[2] / "docs" / "csp.md"


def documented_policy(chatframe_origin: str) -> str:
    """The example policy of docs/csp.md, for this Chatframe, with a nonce for the page script."""
    block = re.search(r"```\nContent-Security-Policy:\n(.*?)```", CSP_DOC.read_text(), re.S)
    assert block, "docs/csp.md has no example policy"
    policy = " ".join(block.group(1).split()).replace("https://chat.example.com", chatframe_origin)
    return policy.replace("script-src 'self'", "script-src 'self' 'nonce-hostpage'")


@pytest.mark.parametrize("optional_connect_src", [False, True], ids=["documented", "with-status"])
def test_a_page_with_the_documented_csp_runs_the_chat(
    chat_stack: Stack, context: Any, optional_connect_src: bool
) -> None:
    chatframe = chat_stack.chatframe.url
    policy = documented_policy(chatframe)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "connect-src 'self';" in policy  # the example leaves Chatframe out of connect-src
    if optional_connect_src:
        policy = policy.replace("connect-src 'self';", f"connect-src 'self' {chatframe};")
    url = chat_stack.trusted_pages.page(
        f"/strict-csp-{optional_connect_src}",
        f"""<!doctype html><html><head>
        <meta http-equiv="Content-Security-Policy" content="{policy}">
        </head><body><div id="chat"></div><script type="module" nonce="hostpage">
          import {{ Chatframe }} from "{chat_stack.chatframe.url}/sdk/v1/chatframe.js";
          window.events = [];
          Chatframe.mount("#chat", {{
            clientId: "{chat_stack.client_id}",
            async getCode(request) {{
              const response = await fetch("/code", {{
                method: "POST", body: JSON.stringify(request),
                headers: {{"Content-Type": "application/json"}},
              }});
              return (await response.json()).code;
            }},
            onEvent: (event) => window.events.push(event),
          }});
        </script></body></html>""",
    )
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text))
    page.goto(url)
    page.wait_for_function(
        "() => window.events.some((e) => e.type === 'AUTH_SUCCESS' || e.type === 'ERROR')",
        timeout=30000,
    )
    events = page.evaluate("() => window.events")
    assert [e for e in events if e["type"] == "ERROR"] == []
    assert "AUTH_SUCCESS" in [e["type"] for e in events]
    refused = [text for text in violations if "Content Security Policy" in text]
    if optional_connect_src:
        assert refused == []
    else:  # the status check was refused, and nothing else: the chat started without it
        status = f"{chatframe}/embed/{chat_stack.client_id}/status"
        assert refused and all(status in text for text in refused), refused


def test_an_unregistered_origin_without_the_status_check_still_names_the_fixes(
    chat_stack: Stack, context: Any
) -> None:
    """The status check is refused and the frame refuses the page: the silence is explained."""
    from tests.browser.test_sdk_install import HEAD, events_of, mount_script, open_page

    chatframe = chat_stack.chatframe.url
    url = chat_stack.hostile_pages.page(
        "/unregistered-strict-csp",
        f"""{HEAD}<div id="chat"></div>
        <script src="{chatframe}/sdk/v1/chatframe.js"></script>
        <script>{mount_script(chat_stack)}</script></body></html>""",
        headers={
            "Content-Security-Policy": (
                f"default-src 'self'; script-src 'self' 'unsafe-inline' {chatframe}; "
                f"frame-src {chatframe}; connect-src 'self'"
            )
        },
    )
    page, console = open_page(context, url)
    page.wait_for_function("() => window.events.some((e) => e.type === 'ERROR')", timeout=20000)
    [error] = events_of(page, "ERROR")
    assert error["error"] == "iframe_unavailable"
    origin = chat_stack.hostile_pages.origin
    assert f"{origin} is one of the client's allowed origins" in error["error_description"]
    assert any(error["error_description"] in line for line in console), console
    assert page.evaluate("() => window.codeCalls || 0") == 0
