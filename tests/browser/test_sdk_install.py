"""Installing the SDK as customers do, and every mistake ending in a message, in real Chromium."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Stack
from tests.browser.test_embed_chat import send

HEAD = '<!doctype html><html><head><link rel="icon" href="data:,"></head><body>'

GET_CODE = """async (request) => {
  window.codeCalls = (window.codeCalls || 0) + 1;
  if (window.backendDown) throw new Error("our backend is down");
  const response = await fetch("/code", {
    method: "POST", body: JSON.stringify({...request, user: window.user}),
    headers: {"Content-Type": "application/json"},
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.error_description || `backend answered ${response.status}`);
  }
  return window.codeOverride || body.code;
}"""

MOUNT = """
  window.events = [];
  window.chat = Chatframe.mount("#chat", {{
    clientId: "{client_id}",
    getCode: {get_code},
    onEvent: (event) => window.events.push(event),
  }});
"""


def mount_script(stack: Stack, before: str = "") -> str:
    return before + MOUNT.format(client_id=stack.client_id, get_code=GET_CODE)


def open_page(context: Any, url: str) -> tuple[Any, list[str]]:
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(url)
    return page, console


def chat_works(page: Any) -> None:
    frame = page.frame_locator("#chat iframe")
    frame.locator("#message:not([disabled])").wait_for(timeout=20000)
    assert "Update card" in send(frame, "How do I update my card?")


def events_of(page: Any, type: str) -> list[dict[str, Any]]:
    return [e for e in page.evaluate("() => window.events") if e["type"] == type]


def test_a_classic_script_tag_and_an_inline_mount_chat(chat_stack: Stack, context: Any) -> None:
    url = chat_stack.trusted_pages.page(
        "/classic",
        f"""{HEAD}<div id="chat"></div>
        <script src="{chat_stack.chatframe.url}/sdk/v1/chatframe.js"></script>
        <script>{mount_script(chat_stack)}</script></body></html>""",
    )
    page, console = open_page(context, url)
    chat_works(page)
    assert page.evaluate("() => typeof window.Chatframe.mount") == "function"
    assert not console, console


def test_the_install_pages_snippets_pasted_into_a_page_chat(
    chat_stack: Stack, context: Any
) -> None:
    from authserver.console.snippets import snippets
    from chatapp.embed import sdk_build

    with chat_stack.chatframe.app.app_context():
        filled = snippets(
            chat_stack.chatframe.url,
            chat_stack.client_id,
            chat_stack.trusted_pages.origin,
            None,
            sdk_build(),
            chat_stack.chatframe.settings.native_origin,
        )
    for name, snippet in (("script-tag", filled.page_script), ("module", filled.page_module)):
        url = chat_stack.trusted_pages.page(f"/pasted-{name}", f"{HEAD}{snippet}</body></html>")
        page, console = open_page(context, url)
        chat_works(page)
        assert not console, (name, console)
        page.close()


def test_an_es_module_import_chats(chat_stack: Stack, context: Any) -> None:
    url = chat_stack.trusted_pages.page(
        "/module",
        f"""{HEAD}<div id="chat"></div><script type="module">
          import {{ Chatframe }} from "{chat_stack.chatframe.url}/sdk/v1/chatframe.js";
          {mount_script(chat_stack)}
        </script></body></html>""",
    )
    page, console = open_page(context, url)
    chat_works(page)
    assert not console, console


def test_a_pinned_version_with_subresource_integrity_chats(chat_stack: Stack, context: Any) -> None:
    from chatapp.embed import sdk_build

    with chat_stack.chatframe.app.app_context():
        built = sdk_build()
    src = f"{chat_stack.chatframe.url}/sdk/{built.version}/chatframe.js"
    tag = f'<script src="{src}" integrity="{built.classic_integrity}" crossorigin="anonymous">'
    url = chat_stack.trusted_pages.page(
        "/pinned",
        f"""{HEAD}<div id="chat"></div>{tag}</script>
        <script>{mount_script(chat_stack)}</script></body></html>""",
    )
    page, _ = open_page(context, url)
    chat_works(page)

    tampered = chat_stack.trusted_pages.page(
        "/pinned-wrong-hash",
        f"""{HEAD}<div id="chat"></div>
        <script src="{src}" integrity="sha384-{"A" * 64}" crossorigin="anonymous"></script>
        <script>window.loaded = typeof window.Chatframe;</script></body></html>""",
    )
    page, console = open_page(context, tampered)
    assert page.evaluate("() => window.loaded") == "undefined"  # the browser refused to run it
    assert any("integrity" in line for line in console), console


def test_a_failing_get_code_shows_unavailable_and_retry_works_once_fixed(
    chat_stack: Stack, context: Any
) -> None:
    url = chat_stack.trusted_pages.page(
        "/backend-down",
        f"""{HEAD}<div id="chat"></div>
        <script src="{chat_stack.chatframe.url}/sdk/v1/chatframe.js"></script>
        <script>{mount_script(chat_stack, "window.backendDown = true;")}</script></body></html>""",
    )
    page, console = open_page(context, url)
    frame = page.frame_locator("#chat iframe")
    unavailable = frame.locator("#unavailable")
    unavailable.wait_for(timeout=20000)  # after the SDK's retries ran out
    assert "Chat is unavailable right now" in unavailable.inner_text()
    assert page.evaluate("() => window.codeCalls") == 4  # the first call and three retries
    errors = events_of(page, "ERROR")
    assert {e["error"] for e in errors} == {"get_code_failed"}
    assert "our backend is down" in errors[-1]["error_description"]
    assert any("our backend is down" in line for line in console)

    page.evaluate("() => { window.backendDown = false; }")
    frame.get_by_role("button", name="Try again").click()
    frame.locator("#message:not([disabled])").wait_for(timeout=20000)
    assert unavailable.count() == 0
    assert "Update card" in send(frame, "update my card")


def test_a_get_code_returning_no_embed_code_is_retried_then_shown_unavailable(
    chat_stack: Stack, context: Any
) -> None:
    """A backend answering with an error page's text: retried like a failure, then visible."""
    url = chat_stack.trusted_pages.page(
        "/not-a-code",
        f"""{HEAD}<div id="chat"></div>
        <script src="{chat_stack.chatframe.url}/sdk/v1/chatframe.js"></script>
        <script>{mount_script(chat_stack, "window.codeOverride = '<h1>502</h1>';")}</script>
        </body></html>""",
    )
    page, console = open_page(context, url)
    page.frame_locator("#chat iframe").locator("#unavailable").wait_for(timeout=20000)
    assert page.evaluate("() => window.codeCalls") == 4
    errors = events_of(page, "ERROR")
    assert {e["error"] for e in errors} == {"get_code_failed"}
    assert "not an embed code" in errors[-1]["error_description"]
    assert "<h1>" not in errors[-1]["error_description"]  # the page's text is not echoed
    assert any("not an embed code" in line for line in console), console


def test_a_non_member_reaches_the_console_with_the_fix(chat_stack: Stack, context: Any) -> None:
    """The backend passes Chatframe's invalid_target on; getCode throws it; the SDK shows it."""
    url = chat_stack.trusted_pages.page(
        "/not-a-member",
        f"""{HEAD}<div id="chat"></div>
        <script src="{chat_stack.chatframe.url}/sdk/v1/chatframe.js"></script>
        <script>{mount_script(chat_stack, "window.user = 'bob';")}</script></body></html>""",
    )
    page, console = open_page(context, url)
    page.wait_for_function("() => window.events.some((e) => e.type === 'ERROR')", timeout=15000)
    billing = chat_stack.bot("Billing helper")
    fix = f"partner user bob is not a member of {billing}; add them"
    assert fix in events_of(page, "ERROR")[0]["error_description"]
    assert any(fix in line for line in console), console
    page.evaluate("() => window.chat.destroy()")


def test_auth_error_shows_unavailable_and_reaches_on_event_and_the_console(
    chat_stack: Stack, context: Any
) -> None:
    url = chat_stack.trusted_pages.page(
        "/bad-code",
        f"""{HEAD}<div id="chat"></div>
        <script src="{chat_stack.chatframe.url}/sdk/v1/chatframe.js"></script>
        <script>{mount_script(chat_stack, "window.codeOverride = 'x'.repeat(43);")}</script>
        </body></html>""",
    )
    page, console = open_page(context, url)
    frame = page.frame_locator("#chat iframe")
    frame.locator("#unavailable").wait_for(timeout=20000)
    page.wait_for_function("() => window.events.some((e) => e.type === 'AUTH_ERROR')")
    auth_error = events_of(page, "AUTH_ERROR")[0]
    assert auth_error["error"] == "invalid_grant" and auth_error["error_description"]
    assert any(auth_error["error_description"] in line for line in console), console

    page.evaluate("() => { window.codeOverride = null; }")  # the backend is fixed
    frame.get_by_role("button", name="Try again").click()
    frame.locator("#message:not([disabled])").wait_for(timeout=20000)
    assert events_of(page, "AUTH_SUCCESS")


def test_a_host_page_csp_blocking_the_frame_names_frame_src(
    chat_stack: Stack, context: Any
) -> None:
    chatframe = chat_stack.chatframe.url
    url = chat_stack.trusted_pages.page(
        "/strict-csp",
        f"""{HEAD}<div id="chat"></div>
        <script src="{chatframe}/sdk/v1/chatframe.js"></script>
        <script>{mount_script(chat_stack)}</script></body></html>""",
        headers={
            "Content-Security-Policy": (
                f"default-src 'self'; script-src 'self' 'unsafe-inline' {chatframe}; "
                f"connect-src 'self' {chatframe}; frame-src 'self'"
            )
        },
    )
    page, console = open_page(context, url)
    page.wait_for_function("() => window.events.some((e) => e.type === 'ERROR')", timeout=15000)
    error = events_of(page, "ERROR")[0]
    assert error["error"] == "frame_blocked_by_csp"
    assert f"add {chatframe} to the frame-src directive" in error["error_description"]
    assert any("frame-src" in line and chatframe in line for line in console), console
    assert page.evaluate("() => window.codeCalls || 0") == 0


def test_a_client_secret_used_from_a_page_is_refused_readably(
    chat_stack: Stack, context: Any
) -> None:
    state = chat_stack.state
    url = chat_stack.hostile_pages.page(
        "/secret-in-page",
        f"""{HEAD}<script>
          window.result = fetch("{chat_stack.chatframe.url}/oauth/token", {{
            method: "POST",
            headers: {{ Authorization: "Basic " + btoa("{state["client_id"]}:wrong-secret") }},
            body: new URLSearchParams({{ grant_type: "client_credentials", scope: "manage" }}),
          }}).then(async (r) => [r.status, await r.json()]);
        </script></body></html>""",
    )
    page, _ = open_page(context, url)
    status, body = page.evaluate("() => window.result")
    assert status == 400 and body["error"] == "invalid_request"
    assert "must stay on your backend" in body["error_description"]
