"""The native app page in real Chromium: a stand-in for each app bridge, the fragment fallback,
and foreign frames that try to answer the bridge."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Stack
from tests.browser.test_embed_chat import send
from tests.embed import Backend, Iframe

# A stand-in for the app, installed like the real bridges: in the Chatframe page only (Android's
# allowedOriginRules; WebKit's and React Native's handlers exist in the top frame only). It logs
# what the page sends and, on READY, answers with a code from the test's "app backend" once
# released (window.__release()).
BRIDGE = """
(() => {
  if (window.top !== window || location.origin !== %(chatframe)s) return;
  const shape = %(shape)s;
  window.__bridgeLog = [];
  let release;
  window.__released = new Promise((resolve) => { release = resolve; });
  window.__release = () => release();
  if (%(released)s) release();
  window.__hostileMessages = 0;
  window.addEventListener("message", (event) => {
    if (event.origin === %(hostile)s) window.__hostileMessages += 1;
  });
  async function answer(text) {
    const message = JSON.parse(text);
    window.__bridgeLog.push(message);
    if (message.type !== "READY") return null;
    await window.__released;
    const code = await window.appBackendCode(message);
    return JSON.stringify({ chatframe: 1, type: "AUTH", code, request_id: message.request_id });
  }
  if (shape === "ios") {
    window.webkit = { messageHandlers: { chatframe: { postMessage: (text) => answer(text) } } };
  } else if (shape === "android") {
    const listeners = [];
    window.chatframe = {
      onmessage: null,
      addEventListener: (type, listener) => { if (type === "message") listeners.push(listener); },
      postMessage(text) {
        answer(text).then((reply) => {
          if (reply === null) return;
          const event = new MessageEvent("message", { data: reply });
          listeners.forEach((listener) => listener(event));
          if (this.onmessage) this.onmessage(event);
        });
      },
    };
  } else {
    // react-native-webview: Android dispatches on document, iOS on window.
    const target = shape === "react-native-android" ? document : window;
    window.ReactNativeWebView = {
      postMessage(text) {
        answer(text).then((reply) => {
          if (reply !== null) target.dispatchEvent(new MessageEvent("message", { data: reply }));
        });
      },
    };
  }
})();
"""

SHAPES = ["ios", "android", "react-native-android", "react-native-ios"]

FORGER = """<!doctype html><html><body><script>
  window.received = [];
  window.addEventListener("message", (event) => window.received.push(event.data));
  const params = new URLSearchParams(location.search);
  const reply = {
    chatframe: 1, type: "AUTH", code: params.get("code"), request_id: params.get("request_id"),
  };
  const forms = [reply, JSON.stringify(reply), { chatframe: 1, type: "AUTH", code: reply.code }];
  for (const target of [window.parent, window.top]) {
    for (const data of forms) target.postMessage(data, "*");
  }
  try { window.top.ReactNativeWebView.postMessage("{}"); } catch (error) { window.blocked = true; }
  window.sent = 6;
</script></body></html>"""


@pytest.fixture
def native_stack(chat_stack: Stack) -> Iterator[Stack]:
    """The demo client with native app embedding (bridge and fragment) enabled."""
    from authserver import registry
    from authserver.extensions import db

    app = chat_stack.chatframe.app
    with app.app_context():
        registry.update_client(
            registry.get_client(chat_stack.client_id), native_enabled=True, native_fragment=True
        )
        db.session.remove()
    yield chat_stack
    with app.app_context():
        registry.update_client(registry.get_client(chat_stack.client_id), native_enabled=False)
        db.session.remove()


def native_url(stack: Stack) -> str:
    return f"{stack.chatframe.url}/embed/{stack.client_id}/native"


def backend(stack: Stack) -> Backend:
    return Backend(stack.chatframe.url, stack.client_id, stack.state["client_secret"])


def bridge_code(stack: Stack, user: str, ready: dict[str, Any]) -> str:
    """What the app's backend does with READY: a code bound to the page's challenge and key."""
    response = backend(stack).exchange(
        None,
        user,
        stack.state["user_bots"][user],
        origin=stack.chatframe.url,
        code_challenge=ready["code_challenge"],
        code_challenge_method=ready["code_challenge_method"],
        dpop_jkt=ready["dpop_jkt"],
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def open_with_bridge(
    stack: Stack, context: Any, shape: str, *, released: bool = True, user: str = "alice"
) -> tuple[Any, list[str]]:
    """Open the native page with a stand-in app; return the page and every request it made."""
    page = context.new_page()
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(f"{r.url} {r.post_data or ''}"))

    def app_backend_code(source: dict[str, Any], ready: dict[str, Any]) -> str:
        assert source["frame"] == page.main_frame  # only the app's own page asks the app
        return bridge_code(stack, user, ready)

    page.expose_binding("appBackendCode", app_backend_code)
    page.add_init_script(
        BRIDGE
        % {
            "chatframe": json.dumps(stack.chatframe.url),
            "hostile": json.dumps(stack.hostile_pages.origin),
            "shape": json.dumps(shape),
            "released": json.dumps(released),
        }
    )
    page.goto(native_url(stack))
    return page, requests_seen


def wait_for_chat(page: Any) -> None:
    page.locator("#message:not([disabled])").wait_for(timeout=20000)


@pytest.mark.parametrize("shape", SHAPES)
def test_native_page_signs_in_through_each_bridge_shape(
    native_stack: Stack, context: Any, shape: str
) -> None:
    page, requests_seen = open_with_bridge(native_stack, context, shape)
    wait_for_chat(page)

    assert page.locator("#bot-name").inner_text() == "Billing helper"  # alice's first bot
    log = page.evaluate("() => window.__bridgeLog")
    assert [m["type"] for m in log] == ["READY", "AUTH_SUCCESS"]
    ready = log[0]
    assert ready["code_challenge_method"] == "S256" and len(ready["code_challenge"]) == 43
    assert len(ready["dpop_jkt"]) == 43 and len(ready["request_id"]) >= 22
    assert [b["name"] for b in log[1]["bots"]] == ["Billing helper", "Welcome"]

    redemption = next(r for r in requests_seen if "grant_type=authorization_code" in r)
    assert "code_verifier=" in redemption  # PKCE-bound: the verifier never left the page
    code = redemption.split("code=", 1)[1].split("&", 1)[0]
    assert not any(code in r.split(" ", 1)[0] for r in requests_seen)  # never in a URL
    assert code not in page.url

    assert "Update card" in send(page, "How do I update my card?")


@pytest.mark.parametrize("shape", SHAPES)
def test_a_foreign_frame_answering_the_bridge_gets_nothing(
    native_stack: Stack, browser: Any, shape: str
) -> None:
    # bypass_csp lets the test put a hostile frame inside the page (the page's own CSP and
    # COOP would keep every other window out): the page's own checks must stop it too.
    context = browser.new_context(bypass_csp=True)
    try:
        page, requests_seen = open_with_bridge(native_stack, context, shape, released=False)
        page.wait_for_function("() => window.__bridgeLog && window.__bridgeLog.length === 1")
        ready = page.evaluate("() => window.__bridgeLog[0]")
        # The strongest forgery: a real code for bob, bound to this very page's challenge and
        # key, with the right request id. Accepting it would sign alice's app in as bob.
        forged = bridge_code(native_stack, "bob", ready)
        url = native_stack.hostile_pages.page("/forger", FORGER)
        page.evaluate(
            """(src) => {
                const frame = document.createElement("iframe");
                frame.src = src;
                document.body.append(frame);
            }""",
            f"{url}?code={forged}&request_id={ready['request_id']}",
        )
        page.wait_for_function("() => window.__hostileMessages === 6")
        forger = page.frames[1]
        assert forger.evaluate("() => window.blocked") is True  # no reach into the page's bridge

        token_requests = [r for r in requests_seen if "/oauth/token" in r]
        assert not any(forged in r for r in token_requests)  # the forged code was never used
        assert page.locator("#message").is_disabled()

        page.evaluate("() => window.__release()")
        wait_for_chat(page)
        assert page.locator("#bot-name").inner_text() == "Billing helper"  # alice, not bob
        token_requests = [r for r in requests_seen if "/oauth/token" in r]
        assert len(token_requests) == 1 and forged not in token_requests[0]
        assert forger.evaluate("() => window.received") == []  # nothing was sent to it
        types = [m["type"] for m in page.evaluate("() => window.__bridgeLog")]
        assert types == ["READY", "AUTH_SUCCESS"]
    finally:
        context.close()


def test_a_page_that_opens_the_native_page_loses_its_handle(
    native_stack: Stack, context: Any
) -> None:
    opener = context.new_page()
    opener.goto(native_stack.hostile_pages.page("/opener", "<!doctype html><p>opener</p>"))
    with context.expect_page() as popup_info:
        opener.evaluate("(url) => { window.popup = window.open(url); }", native_url(native_stack))
    popup = popup_info.value
    popup.wait_for_load_state()
    opener.wait_for_function("() => window.popup.closed === true")  # COOP severed the handle
    assert popup.evaluate("() => window.opener") is None


def test_fragment_mode_leaves_no_code_in_location_history_or_referrer(
    native_stack: Stack, context: Any
) -> None:
    response = backend(native_stack).exchange(
        None, "alice", native_stack.state["user_bots"]["alice"], origin=native_stack.chatframe.url
    )
    assert response.status_code == 200, response.text
    code = response.json()["access_token"]
    page = context.new_page()
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(f"{r.url} {r.post_data or ''}"))

    page.goto(f"{native_url(native_stack)}#code={code}")
    wait_for_chat(page)
    assert page.locator("#bot-name").inner_text() == "Billing helper"

    state = page.evaluate(
        "() => ({href: location.href, hash: location.hash, length: history.length,"
        " state: history.state})"
    )
    # Two entries: the new tab's about:blank and this page (replaceState added none).
    assert state == {"href": native_url(native_stack), "hash": "", "length": 2, "state": None}
    redemption = next(r for r in requests_seen if "grant_type=authorization_code" in r)
    assert "code_verifier" not in redemption  # fragment mode: DPoP binds it instead
    assert not any(code in r.split(" ", 1)[0] for r in requests_seen)

    # The next navigation, same-origin and cross-origin: no referrer, no code.
    page.evaluate(
        "(url) => { location.href = url; }", f"{native_stack.chatframe.url}/sdk/v1/chatframe.d.ts"
    )
    page.wait_for_url("**/chatframe.d.ts")
    assert page.evaluate("() => document.referrer") == ""
    landing = native_stack.hostile_pages.page("/landing", "<!doctype html><p>landing</p>")
    page.evaluate("(url) => { location.href = url; }", landing)
    page.wait_for_url(landing)
    assert page.evaluate("() => document.referrer") == ""

    cdp = context.new_cdp_session(page)
    entries = cdp.send("Page.getNavigationHistory")["entries"]
    assert [entry["url"] for entry in entries[1:]] == [
        native_url(native_stack),
        f"{native_stack.chatframe.url}/sdk/v1/chatframe.d.ts",
        landing,
    ]
    assert not any(code in entry["url"] for entry in entries)
    assert not any(code in r.split(" ", 1)[0] for r in requests_seen)

    # The code was single-use: presenting it again fails (and revokes the page's session).
    again = Iframe(native_stack.chatframe.url, native_stack.client_id, native_stack.chatframe.url)
    assert again.redeem(code, code_verifier=None).json()["error"] == "invalid_grant"


def test_without_a_bridge_or_fragment_the_page_says_to_open_it_from_the_app(
    native_stack: Stack, context: Any
) -> None:
    page = context.new_page()
    page.goto(native_url(native_stack) + f"#code={secrets.token_urlsafe(8)}!")
    page.locator("#status").wait_for(timeout=10000)
    assert "not valid" in page.locator("#status").inner_text()
    assert page.evaluate("() => location.hash") == ""
    page.goto(native_url(native_stack))
    page.get_by_text("Open this chat from the app").wait_for(timeout=10000)


def test_try_again_on_the_native_page_asks_the_app_for_a_new_code(
    native_stack: Stack, context: Any
) -> None:
    """The app's backend failed once (a bad code): "Try again" sends a fresh READY that works."""
    page = context.new_page()
    answers: list[str] = []

    def app_backend_code(source: dict[str, Any], ready: dict[str, Any]) -> str:
        answers.append("bad" if not answers else "good")
        return "x" * 43 if answers[-1] == "bad" else bridge_code(native_stack, "alice", ready)

    page.expose_binding("appBackendCode", app_backend_code)
    page.add_init_script(
        BRIDGE
        % {
            "chatframe": json.dumps(native_stack.chatframe.url),
            "hostile": json.dumps(native_stack.hostile_pages.origin),
            "shape": json.dumps("android"),
            "released": "true",
        }
    )
    page.goto(native_url(native_stack))
    page.locator("#unavailable").wait_for(timeout=20000)
    assert "Chat is unavailable right now" in page.locator("#unavailable").inner_text()
    page.get_by_role("button", name="Try again").click()
    wait_for_chat(page)
    assert answers == ["bad", "good"]
    log = page.evaluate("() => window.__bridgeLog")
    types = [m["type"] for m in log]
    assert types == ["READY", "AUTH_ERROR", "RETRY", "READY", "AUTH_SUCCESS"]
    assert log[0]["request_id"] != log[3]["request_id"]
    assert log[0]["code_challenge"] != log[3]["code_challenge"]  # one challenge per code


def test_a_failed_fragment_code_offers_no_try_again_that_cannot_work(
    native_stack: Stack, context: Any
) -> None:
    page = context.new_page()
    page.goto(f"{native_url(native_stack)}#code={'x' * 43}")
    unavailable = page.locator("#unavailable")
    unavailable.wait_for(timeout=20000)
    assert "Close the chat and open it again" in unavailable.inner_text()
    assert page.get_by_role("button", name="Try again").count() == 0
