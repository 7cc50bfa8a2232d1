"""End users chatting in the iframe on the demo customer site, in real headless Chromium."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.browser.conftest import Stack

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "chat.png"


class Traffic:
    """Every request URL the page made, and the codes and tokens that crossed the wire."""

    def __init__(self, page: Any) -> None:
        self.urls: list[str] = []
        self.secrets: list[str] = []
        self.code_requests = 0
        self.refreshes = 0
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request: Any) -> None:
        self.urls.append(request.url)
        if request.url.endswith("/chatframe/code"):
            self.code_requests += 1
        if request.url.endswith("/oauth/token") and "grant_type=refresh_token" in (
            request.post_data or ""
        ):
            self.refreshes += 1

    def _response(self, response: Any) -> None:
        url = response.url
        if not (url.endswith("/chatframe/code") or url.endswith("/oauth/token")):
            return
        try:
            body = response.json()
        except Exception:
            return
        for key in ("code", "access_token", "refresh_token", "id_token"):
            if isinstance(body.get(key), str):
                self.secrets.append(body[key])


def sign_in(page: Any, stack: Stack, user: str, password: str) -> Any:
    """Sign in on the demo site; return the chat iframe's frame once the chat is ready."""
    page.goto(f"{stack.site_url}/signin")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{stack.site_url}/")
    frame = page.frame_locator("#chat iframe")
    frame.locator("#message:not([disabled])").wait_for(timeout=20000)
    return frame


def picker_names(frame: Any) -> list[str]:
    return [o.strip() for o in frame.locator("#bot-picker option").all_inner_texts()]


def send(frame: Any, text: str) -> str:
    """Type a message, press Enter, and return the bot's reply."""
    before = frame.locator(".message.from-bot").count()
    frame.locator("#message").fill(text)
    frame.locator("#message").press("Enter")
    frame.locator(".message.from-bot").nth(before).wait_for(timeout=15000)
    return str(frame.locator(".message.from-bot .bubble").nth(before).inner_text())


def test_alice_chats_with_her_bots_and_nothing_sensitive_is_stored(
    chat_stack: Stack, context: Any
) -> None:
    page = context.new_page()
    traffic = Traffic(page)
    frame = sign_in(page, chat_stack, "alice", "wonderland")

    assert picker_names(frame) == ["Billing helper", "Welcome"]
    assert frame.locator("#bot-name").inner_text() == "Billing helper"
    assert "invoices, payments and refunds" in frame.locator(".from-bot .bubble").first.inner_text()
    reply = send(frame, "How do I update my card?")
    assert "Update card" in reply
    assert "don't know" in send(frame, "Can you sing?")

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)  # let the iframe's RESIZE settle before the picture
    page.screenshot(path=str(SCREENSHOT))

    # Welcome is the other bot; switching keeps the conversation per bot
    frame.locator("#bot-picker").select_option(label="Welcome")
    frame.locator(".from-bot .bubble", has_text="Welcome to Acme!").wait_for()
    frame.locator("#message:not([disabled])").wait_for()
    assert frame.locator("#bot-name").inner_text() == "Welcome"
    assert "update my card" not in frame.locator("#messages").inner_text()  # Billing's stays there
    assert "9:00" in send(frame, "What are your opening hours?")

    # nothing sensitive in any URL, storage or cookie of the embed origin
    assert len(traffic.secrets) >= 3  # the code and the tokens were seen on the wire
    embed = page.frames[1]
    assert embed.url == f"{chat_stack.chatframe.url}/embed/{chat_stack.client_id}"
    # Chromium may deny a third-party frame its storage outright; either way it must be empty
    storage = embed.evaluate(
        """() => ["localStorage", "sessionStorage", "cookie"].map((name) => {
          try {
            const store = name === "cookie" ? document.cookie : window[name];
            return typeof store === "string" ? store : JSON.stringify(Object.entries(store));
          } catch (error) {
            return `denied:${error.name}`;
          }
        })"""
    )
    assert all(value in ("[]", "", "denied:SecurityError") for value in storage), storage
    cookies = str(context.cookies(chat_stack.chatframe.url))
    assert cookies == "[]"
    for secret in traffic.secrets:
        assert all(secret not in url for url in traffic.urls)
        assert all(secret not in value for value in storage) and secret not in cookies


def test_bob_sees_tech_support_and_welcome_never_billing(chat_stack: Stack, context: Any) -> None:
    page = context.new_page()
    frame = sign_in(page, chat_stack, "bob", "builder")
    assert picker_names(frame) == ["Tech support", "Welcome"]
    assert "Billing helper" not in frame.locator("body").inner_text()
    assert "Forgot password" in send(frame, "how can I reset my password?")


def test_chat_keeps_working_across_silent_refreshes(chat_stack: Stack, context: Any) -> None:
    chat_stack.chatframe.configure(access_token_ttl=3)
    page = context.new_page()
    traffic = Traffic(page)
    frame = sign_in(page, chat_stack, "alice", "wonderland")
    for question in ("When am I billed?", "Where can I download my invoices?", "refund"):
        time.sleep(2.5)
        assert "don't know" not in send(frame, question)
    assert traffic.refreshes >= 3, traffic.refreshes
    assert traffic.code_requests == 1  # refreshes, not new handshakes


def test_revoked_sessions_make_the_sdk_run_a_new_handshake(chat_stack: Stack, context: Any) -> None:
    from authserver.access import find_partner_user
    from authserver.sessions import revoke_user_sessions

    chat_stack.chatframe.configure(access_token_ttl=4)
    page = context.new_page()
    traffic = Traffic(page)
    frame = sign_in(page, chat_stack, "alice", "wonderland")
    assert traffic.code_requests == 1
    with chat_stack.chatframe.app.app_context():
        user = find_partner_user(chat_stack.state["customer_id"], "alice")
        assert user is not None and revoke_user_sessions(user, "revoked_by_customer") >= 1
    deadline = time.monotonic() + 20
    while traffic.code_requests < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert traffic.code_requests == 2, "getCode was not called again after the revocation"
    frame.locator("#message:not([disabled])").wait_for(timeout=15000)
    assert "Update card" in send(frame, "update my card")


def test_chat_fits_a_320px_screen(chat_stack: Stack, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 320, "height": 640}, color_scheme="dark")
    try:
        page = context.new_page()
        frame = sign_in(page, chat_stack, "bob", "builder")
        send(frame, "Is there an outage?")
        overflow = page.frames[1].evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        background = page.frames[1].evaluate(
            "() => getComputedStyle(document.body).backgroundColor"
        )
        assert background == "rgb(20, 22, 26)"  # the dark palette follows the system setting
    finally:
        context.close()


def test_keyboard_only_chat(chat_stack: Stack, context: Any) -> None:
    page = context.new_page()
    frame = sign_in(page, chat_stack, "alice", "wonderland")
    textarea = frame.locator("#message")
    assert textarea.evaluate("el => document.activeElement === el")  # focused, ready to type
    page.keyboard.type("refund")
    page.keyboard.press("Enter")
    frame.locator(".message.from-bot", has_text="billing@acme.example").wait_for(timeout=15000)
    page.keyboard.press("Shift+Tab")  # into the log, which is focusable for screen readers
    assert frame.locator(":focus").get_attribute("id") in ("log", "bot-picker", "load-earlier")


def test_sdk_events_resize_and_logout_on_a_customer_page(chat_stack: Stack, context: Any) -> None:
    from sqlalchemy import select

    from authserver.access import find_partner_user
    from authserver.extensions import db
    from authserver.models import Session

    url = chat_stack.trusted_pages.page(
        "/sdk-page",
        f"""<!doctype html><html><body><div id="chat"></div><script type="module">
          import {{ Chatframe }} from "{chat_stack.chatframe.url}/sdk/v1/chatframe.js";
          window.events = [];
          window.chat = Chatframe.mount("#chat", {{
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
    page.goto(url)
    frame = page.frame_locator("#chat iframe")
    frame.locator("#message:not([disabled])").wait_for(timeout=20000)
    send(frame, "How do I get a refund?")
    page.wait_for_function("() => window.events.some((e) => e.type === 'RESIZE')")
    events = page.evaluate("() => window.events")
    types = [e["type"] for e in events]
    assert types[0] == "READY" and "AUTH_SUCCESS" in types
    success = next(e for e in events if e["type"] == "AUTH_SUCCESS")
    assert [b["name"] for b in success["bots"]] == ["Billing helper", "Welcome"]
    assert all("chatframe" not in e for e in events)  # the page sees {type, ...} only
    last_resize = [e["height"] for e in events if e["type"] == "RESIZE"][-1]
    height = page.evaluate("() => document.querySelector('#chat iframe').style.height")
    assert height == f"{min(900, max(320, last_resize))}px"

    page.evaluate("() => window.chat.logout()")
    frame.locator("#status", has_text="signed out").wait_for()
    with chat_stack.chatframe.app.app_context():
        user = find_partner_user(chat_stack.state["customer_id"], "alice")
        assert user is not None
        newest = (
            db.session.execute(
                select(Session)
                .where(Session.partner_user_pk == user.id)
                .order_by(Session.created_at.desc())
            )
            .scalars()
            .first()
        )
        assert newest is not None and newest.revoked_reason == "revoked_by_client"
        db.session.remove()
    page.evaluate("() => window.chat.destroy()")
    assert page.locator("#chat iframe").count() == 0


def test_history_is_paged_with_load_earlier(chat_stack: Stack, context: Any) -> None:
    """35 earlier exchanges (70 messages): the chat shows the latest 30, then pages back."""
    from tests.embed import Backend, Iframe

    state = chat_stack.state
    backend = Backend(chat_stack.chatframe.url, state["client_id"], state["client_secret"])
    iframe = Iframe(chat_stack.chatframe.url, state["client_id"], chat_stack.site_url)
    billing = chat_stack.bot("Billing helper")
    assert iframe.redeem(backend.code(iframe, "alice", [billing])).status_code == 200
    cnv = iframe.api("POST", f"/chat/api/bots/{billing}/conversations", json={}).json()["id"]
    for i in range(35):
        iframe.api("POST", f"/chat/api/conversations/{cnv}/messages", json={"text": f"old {i}"})

    page = context.new_page()
    frame = sign_in(page, chat_stack, "alice", "wonderland")
    messages = frame.locator("#messages .message")
    assert messages.count() == 31  # the greeting and the latest 30
    assert "old 34" in frame.locator("#messages").inner_text()
    assert "old 19" not in frame.locator("#messages").inner_text()
    frame.get_by_role("button", name="Load earlier messages").click()
    frame.locator(".bubble", has_text="old 5").wait_for()
    assert messages.count() == 61
    frame.get_by_role("button", name="Load earlier messages").click()
    frame.locator(".bubble", has_text="old 0").wait_for()
    assert messages.count() == 71
    texts = frame.locator("#messages .bubble").all_inner_texts()
    assert texts[0].startswith("Hi! I can help") and texts[1] == "old 0"  # greeting stays first
    assert frame.get_by_role("button", name="Load earlier messages").is_hidden()


def test_get_code_failure_is_reported_and_retried(chat_stack: Stack, context: Any) -> None:
    url = chat_stack.trusted_pages.page(
        "/flaky-backend",
        f"""<!doctype html><html><body><div id="chat"></div><script type="module">
          import {{ Chatframe }} from "{chat_stack.chatframe.url}/sdk/v1/chatframe.js";
          window.events = [];
          window.calls = 0;
          Chatframe.mount("#chat", {{
            clientId: "{chat_stack.client_id}",
            async getCode(request) {{
              window.calls++;
              if (window.calls === 1) throw new Error("backend is down");
              if (window.calls === 2) return "";
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
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_function(
        "() => window.events.some((e) => e.type === 'AUTH_SUCCESS')", timeout=30000
    )
    errors = [e for e in page.evaluate("() => window.events") if e["type"] == "ERROR"]
    assert [e["error"] for e in errors] == ["get_code_failed", "get_code_failed"]
    assert "getCode threw: backend is down" in errors[0]["error_description"]
    assert "returned no code" in errors[1]["error_description"]
    assert any("backend is down" in line for line in console_errors)
    assert page.evaluate("() => window.calls") == 3
    page.frame_locator("#chat iframe").locator("#message:not([disabled])").wait_for()
