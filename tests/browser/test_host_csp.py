"""The host-page CSP that docs/csp.md recommends is enough for the chat to work."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.browser.conftest import Stack

CSP_DOC = Path(__file__).resolve().parents[2] / "docs" / "csp.md"


def documented_policy(chatframe_origin: str) -> str:
    """The example policy of docs/csp.md, for this Chatframe, with a nonce for the page script."""
    block = re.search(r"```\nContent-Security-Policy:\n(.*?)```", CSP_DOC.read_text(), re.S)
    assert block, "docs/csp.md has no example policy"
    policy = " ".join(block.group(1).split()).replace("https://chat.example.com", chatframe_origin)
    return policy.replace("script-src 'self'", "script-src 'self' 'nonce-hostpage'")


def test_a_page_with_the_documented_csp_runs_the_chat(chat_stack: Stack, context: Any) -> None:
    policy = documented_policy(chat_stack.chatframe.url)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    url = chat_stack.trusted_pages.page(
        "/strict-csp",
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
    assert not [text for text in violations if "Content Security Policy" in text]
