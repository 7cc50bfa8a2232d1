"""Bots in the console: settings and colours, the FAQ, members (add, search, remove), deletion."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.conftest import Tenant, assert_refused
from tests.functional.conftest import YES, ConsoleBrowser, management_api

BOT = {
    "name": "Travel helper",
    "greeting": "Hi! Ask me about your trip.",
    "fallback": "I don't know that yet.",
    "access": "members",
    "require_mfa": "y",
    "enabled": "y",
    "accent": "#0EA5E9",
    "background": "#F8FAFC",
}


def create_bot(owner: ConsoleBrowser, **fields: str) -> requests.Response:
    return owner.post("/console/bots/new", {**BOT, **fields})


def api_bot(tenant: Tenant, bot_id: str) -> dict[str, Any]:
    response = management_api(tenant).call("GET", f"/api/v1/bots/{bot_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def bot_id_of(response: requests.Response) -> str:
    assert response.status_code == 302, response.text[:2000]
    match = re.search(r"/console/bots/(bot_\w+)$", response.headers["Location"])
    assert match
    return match.group(1)


def test_create_a_bot_with_its_colours(owner: ConsoleBrowser, tenant: Tenant) -> None:
    bot_id = bot_id_of(create_bot(owner))
    page = owner.get(f"/console/bots/{bot_id}")
    assert page.status_code == 200 and "Travel helper" in page.text
    bot = api_bot(tenant, bot_id)
    assert bot["greeting"] == "Hi! Ask me about your trip."
    assert bot["fallback"] == "I don't know that yet."
    assert bot["require_mfa"] is True and bot["enabled"] is True and bot["access"] == "members"
    assert bot["appearance"] == {"accent": "#0ea5e9", "background": "#f8fafc"}
    assert bot_id in owner.get("/console/bots").text


def test_edit_a_bot(owner: ConsoleBrowser, tenant: Tenant) -> None:
    bot_id = tenant.bots["support"]
    form = {**BOT, "name": "Support desk", "access": "all_users", "accent": "#111111"}
    del form["require_mfa"], form["enabled"]  # unchecked boxes are not sent
    assert owner.post(f"/console/bots/{bot_id}", form).status_code == 302
    bot = api_bot(tenant, bot_id)
    assert bot["name"] == "Support desk" and bot["access"] == "all_users"
    assert bot["require_mfa"] is False and bot["enabled"] is False
    assert bot["appearance"]["accent"] == "#111111"
    # A disabled bot gets no codes; the change is live at once.
    exchange = tenant.backend.exchange(tenant.iframe(), "bob", [bot_id])
    assert "disabled" in assert_refused(exchange, 400, "invalid_target")["error_description"]


def test_bad_bot_settings_are_explained(owner: ConsoleBrowser, tenant: Tenant) -> None:
    cases = [
        ({"accent": "red"}, "accent must be a hex colour"),
        ({"access": "everyone"}, "Not a valid choice"),
        ({"name": ""}, "This field is required."),
        ({"greeting": "x" * 2001}, "Field cannot be longer than 2000 characters."),
    ]
    for fields, message in cases:
        response = create_bot(owner, **fields)
        assert response.status_code == 400, fields
        assert message in response.text, fields
        edit = owner.post(f"/console/bots/{tenant.bots['welcome']}", {**BOT, **fields})
        assert edit.status_code == 400 and message in edit.text, fields
    assert "Travel helper" not in owner.get("/console/bots").text
    assert api_bot(tenant, tenant.bots["welcome"])["name"] == "Welcome"


def test_faq_add_edit_remove(owner: ConsoleBrowser, tenant: Tenant) -> None:
    bot_id = tenant.bots["billing"]
    base = f"/console/bots/{bot_id}/faq"
    first = {"faq-question": "How do I pay?", "faq-answer": "By card."}
    second = {"faq-question": "Can I get a refund?", "faq-answer": "Within 30 days."}
    assert owner.post(base, first).status_code == 302
    assert owner.post(base, second).status_code == 302
    empty = owner.post(base, {"faq-question": "", "faq-answer": "An answer"})
    assert empty.status_code == 400 and "This field is required." in empty.text
    page = owner.get(f"/console/bots/{bot_id}").text
    assert "How do I pay?" in page and "Can I get a refund?" in page

    edit = owner.get(f"{base}/1")
    assert edit.status_code == 200 and "How do I pay?" in edit.text
    saved = owner.post(f"{base}/1", {"question": "How do I pay my bill?", "answer": "By card."})
    assert saved.status_code == 302
    assert owner.post(f"{base}/2/remove").status_code == 302
    faq = api_bot(tenant, bot_id)["faq"]
    assert faq == [{"question": "How do I pay my bill?", "answer": "By card."}]
    assert owner.get(f"{base}/5").status_code == 404


def test_members_add_search_and_remove(owner: ConsoleBrowser, tenant: Tenant) -> None:
    bot_id = tenant.bots["billing"]
    base = f"/console/bots/{bot_id}/members"
    for user in ("olivia", "oscar", "zed"):
        assert owner.post(base, {"partner_user_id": user}).status_code == 302
    again = owner.post(base, {"partner_user_id": "zed"})
    assert again.status_code == 302
    assert "already a member" in owner.get(base).text
    bad = owner.post(base, {"partner_user_id": "has space"})
    assert bad.status_code == 400 and "no spaces" in bad.text

    everyone = owner.get(base).text
    assert all(name in everyone for name in ("alice", "olivia", "oscar", "zed"))
    found = owner.get(base, q="OS").text
    assert "oscar" in found and "olivia" not in found and "zed" not in found
    assert "No member matches" in owner.get(base, q="nobody").text

    # zed can chat with the bot, until removed.
    assert tenant.backend.exchange(tenant.iframe(), "zed", [bot_id]).ok
    assert owner.post(f"{base}/remove", {"partner_user_id": "zed", **YES}).status_code == 302
    assert "zed is no longer a member" in owner.get(base).text
    assert "<code>zed</code>" not in owner.get(base).text
    exchange = tenant.backend.exchange(tenant.iframe(), "zed", [bot_id])
    assert "not a member" in assert_refused(exchange, 400, "invalid_target")["error_description"]
    events = [e["type"] for e in tenant.events() if e["type"].startswith("member_")]
    assert events[-1] == "member_removed" and events.count("member_added") >= 4


def test_members_page_pages_through_many_members(owner: ConsoleBrowser, tenant: Tenant) -> None:
    from authserver import registry
    from authserver.extensions import db

    bot_id = tenant.bots["support"]
    with tenant.server.app.app_context():
        bot = registry.get_bot(bot_id)
        for n in range(60):
            registry.add_member(bot, f"user-{n:03d}")
        db.session.remove()
    first = owner.get(f"/console/bots/{bot_id}/members")
    assert "user-000" in first.text and "user-059" not in first.text
    match = re.search(r'href="([^"]*cursor=[^"]+)"', first.text)
    assert match
    second = owner.get(match.group(1).replace("&amp;", "&"))
    assert "user-059" in second.text and "user-000" not in second.text


def test_deleting_a_bot(owner: ConsoleBrowser, tenant: Tenant) -> None:
    bot_id = tenant.bots["billing"]
    assert owner.post(f"/console/bots/{bot_id}/delete", YES).status_code == 302
    assert owner.get(f"/console/bots/{bot_id}").status_code == 404
    assert management_api(tenant).call("GET", f"/api/v1/bots/{bot_id}").status_code == 404
    exchange = tenant.backend.exchange(tenant.iframe(), "alice", [bot_id])
    assert_refused(exchange, 400, "invalid_target")
