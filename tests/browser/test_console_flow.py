"""A new customer sets everything up in the console, and its site's users chat with its bot."""

from __future__ import annotations

import secrets
from typing import Any

from tests.browser.conftest import Stack, ThreadServer
from tests.browser.test_embed_chat import send, sign_in
from tests.conftest import free_port


def test_new_customer_from_sign_up_to_a_working_chat(chat_stack: Stack, context: Any) -> None:
    from examples.demo_site import DemoConfig, create_demo_app

    console = f"{chat_stack.chatframe.url}/console"
    site_port = free_port()
    site_origin = f"http://localhost:{site_port}"
    page = context.new_page()

    # sign up
    page.goto(f"{console}/sign-up")
    page.get_by_label("Company name").fill("Zebra Logistics")
    page.get_by_label("Email").fill(f"ops-{secrets.token_hex(4)}@zebra.example")
    page.get_by_label("Password", exact=True).fill("correct horse battery staple")
    page.get_by_label("Confirm password").fill("correct horse battery staple")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{console}/")

    # a client for the site's origin; the secret is shown once
    page.goto(f"{console}/clients")
    page.locator("#new-client").click()
    page.get_by_label("Client name").fill("Zebra web")
    page.get_by_label("Allowed origins").fill(site_origin)
    page.get_by_role("button", name="Create client").click()
    client_id = page.locator("#client-id").inner_text().strip()
    client_secret = page.locator("#client-secret").inner_text().strip()
    assert client_id.startswith("cf_") and client_secret.startswith("cfs_")

    # a bot with two FAQ entries and one member
    page.goto(f"{console}/bots")
    page.locator("#new-bot").click()
    page.get_by_label("Name").fill("Order status")
    page.get_by_label("Greeting").fill("Hi! Ask me where your parcel is.")
    page.get_by_role("button", name="Create bot").click()
    bot_id = page.locator("#bot-id").inner_text().strip()
    assert bot_id.startswith("bot_")
    for question, answer in (
        ("Where is my parcel?", "Track it at zebra.example/track with your order number."),
        ("Can I change the delivery address?", "Yes, until the parcel leaves our warehouse."),
    ):
        page.get_by_label("Question").fill(question)
        page.get_by_label("Answer").fill(answer)
        page.get_by_role("button", name="Add FAQ entry").click()
        page.locator("#faq-list", has_text=question).wait_for()
    page.locator("#manage-members").click()
    page.get_by_label("Partner user id").fill("alice")
    page.get_by_role("button", name="Add member").click()
    page.locator("#members-table", has_text="alice").wait_for()

    # the install snippets carry this client, origin, bot and issuer
    page.goto(f"{console}/install?client={client_id}&origin={site_origin}&bot={bot_id}")
    page_snippet = page.locator("#snippet-page").text_content() or ""
    assert f'clientId: "{client_id}"' in page_snippet
    assert f"{chat_stack.chatframe.url}/sdk/v1/chatframe.js" in page_snippet
    for backend in ("#snippet-curl", "#snippet-python", "#snippet-node"):
        text = page.locator(backend).text_content() or ""
        assert client_id in text and bot_id in text and site_origin in text, backend
        assert client_secret not in text  # the secret is never shown again

    # the demo site, reconfigured with that client, chats with that bot
    site = create_demo_app(
        DemoConfig(
            chatframe_url=chat_stack.chatframe.url,
            client_id=client_id,
            client_secret=client_secret,
            bots={"alice": [bot_id]},
        )
    )
    server = ThreadServer(site, site_port)
    try:
        shop = context.new_page()
        stack = Stack(
            chat_stack.chatframe,
            site_origin,
            {},
            chat_stack.trusted_pages,
            chat_stack.hostile_pages,
        )
        frame = sign_in(shop, stack, "alice", "wonderland")
        assert frame.locator("#bot-name").inner_text() == "Order status"
        assert "where your parcel is" in frame.locator(".from-bot .bubble").first.inner_text()
        assert "zebra.example/track" in send(frame, "where's my parcel?")
    finally:
        server.stop()


def test_every_console_page_fits_320px_and_works_by_keyboard(
    chat_stack: Stack, browser: Any
) -> None:
    """No page scrolls sideways at 320 px, and Tab reaches the main navigation and forms."""
    context = browser.new_context(viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        console = f"{chat_stack.chatframe.url}/console"
        page.goto(f"{console}/sign-up")
        page.get_by_label("Company name").fill("A very long company name for a small screen Ltd")
        page.get_by_label("Email").fill(
            f"someone-with-a-long-address-{secrets.token_hex(4)}@example.com"
        )
        page.get_by_label("Password", exact=True).fill("correct horse battery staple")
        page.get_by_label("Confirm password").fill("correct horse battery staple")
        page.get_by_role("button", name="Create account").click()
        page.goto(f"{console}/clients/new")
        page.get_by_label("Client name").fill("Web")
        page.get_by_label("Allowed origins").fill(
            "https://a-rather-long-subdomain.shop.example.com"
        )
        page.get_by_role("button", name="Create client").click()
        client_id = page.locator("#client-id").inner_text().strip()
        page.goto(f"{console}/bots/new")
        page.get_by_label("Name").fill("Helper")
        page.get_by_role("button", name="Create bot").click()
        bot_id = page.locator("#bot-id").inner_text().strip()
        paths = [
            "/",
            "/clients",
            "/clients/new",
            f"/clients/{client_id}",
            "/bots",
            "/bots/new",
            f"/bots/{bot_id}",
            f"/bots/{bot_id}/members",
            "/sessions",
            "/events",
            f"/install?client={client_id}",
            "/team",
            "/account",
        ]
        for path in paths:
            page.goto(console + path)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 320px"
        page.goto(f"{console}/clients")
        reached = set()
        for _ in range(25):
            page.keyboard.press("Tab")
            reached.add(page.evaluate("() => document.activeElement.textContent.trim()"))
        assert {"Clients", "Bots", "New client"} <= reached
    finally:
        context.close()


def test_team_sessions_and_docs_fit_320px(chat_stack: Stack, browser: Any) -> None:
    """With long emails, ids and origins, the Team and Sessions tables need no sideways scroll."""
    from authserver import registry
    from authserver.extensions import db
    from tests.embed import Backend, Iframe

    state, server = chat_stack.state, chat_stack.chatframe
    email = f"someone-with-a-long-address-{secrets.token_hex(4)}@example.com"
    with server.app.app_context():
        customer = registry.get_customer(state["customer_id"])
        registry.create_console_user(customer, email, "correct horse battery staple")
        registry.create_console_user(
            customer, f"colleague-{secrets.token_hex(6)}@a-long-domain.example.com", "x" * 16
        )
        db.session.remove()
    backend = Backend(server.url, state["client_id"], state["client_secret"])
    iframe = Iframe(server.url, state["client_id"], chat_stack.site_url)
    bots = state["user_bots"]["alice"]
    assert iframe.redeem(backend.code(iframe, "alice", bots)).status_code == 200

    context = browser.new_context(viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/console/sign-in")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password", exact=True).fill("correct horse battery staple")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/console/")
        for path, table in (
            ("/console/team", "#team-table"),
            ("/console/sessions", "#sessions-table"),
        ):
            page.goto(server.url + path)
            assert page.locator(f"{table} tbody tr").count() >= 1
            overflow = page.evaluate(
                "(selector) => { const wrap = document.querySelector(selector).parentElement;"
                " return wrap.scrollWidth - wrap.clientWidth; }",
                table,
            )
            assert overflow <= 0, f"{table} scrolls sideways by {overflow}px at 320px"
        assert page.locator("#sessions-table .session-active").count() >= 1
        page.locator("#sessions-table .cell-actions button").first.click()  # asks first
        page.locator("#confirm-form").wait_for()
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the confirmation page scrolls sideways by {overflow}px at 320px"
        for path in ("/", "/docs", "/docs/protocol", "/docs/errors"):
            page.goto(server.url + path)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 320px"
    finally:
        context.close()
