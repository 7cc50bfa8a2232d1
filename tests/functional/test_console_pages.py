"""Every console page and form, tried as the owner, as a console user of another customer and
signed out: only the owner reaches the owner's things; the others get 404 or the sign-in page."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from authserver.extensions import db
from tests.conftest import LiveServer, Tenant
from tests.functional.conftest import YES, ConsoleBrowser, create_console_user, totp_code


@dataclass
class World:
    """The owner's things a page can name: a client, bots, a partner user with a live session,
    a FAQ entry and a second console user."""

    tenant: Tenant
    user: str
    session_id: str
    colleague_id: str
    colleague_email: str


@pytest.fixture
def world(tenant: Tenant) -> World:
    from sqlalchemy import select

    from authserver import registry
    from authserver.models import ConsoleUser

    user = f"dana-{secrets.token_hex(3)}"
    with tenant.server.app.app_context():
        billing = registry.get_bot(tenant.bots["billing"])
        registry.add_member(billing, user)
        registry.add_faq(billing, "Where is my invoice?", "Under Billing, then Invoices.")
        db.session.remove()
    iframe = tenant.session(user, [tenant.bots["billing"]])
    session_id = tenant.backend.introspect(iframe.tokens["access_token"]).json()["sid"]
    colleague = create_console_user(tenant)
    with tenant.server.app.app_context():
        colleague_id = db.session.execute(
            select(ConsoleUser.id).where(ConsoleUser.email == colleague)
        ).scalar_one()
        db.session.remove()
    return World(tenant, user, session_id, colleague_id, colleague)


BOT_FORM = {
    "name": "Renamed bot",
    "greeting": "Hello there",
    "fallback": "No idea, sorry.",
    "access": "all_users",
    "enabled": "y",
    "accent": "#ff0000",
    "background": "#000000",
}


def enrolment_code(browser: ConsoleBrowser, world: World) -> dict[str, str]:
    """A right code for the key the enrolment page offers (signed out there is no page)."""
    page = browser.get("/console/account/two-factor").text
    match = re.search(r'id="totp-key"[^>]*>([A-Z2-7]+)<', page)
    return {"code": totp_code(match.group(1)) if match else "000000"}


@dataclass(frozen=True)
class Page:
    method: str
    rule: str
    path: Callable[[World], str]
    form: dict[str, Any] | Callable[[ConsoleBrowser, World], dict[str, Any]] = field(
        default_factory=dict
    )
    owner_status: int = 200
    # object: names something of the owner (others get 404); own: works on the caller's own
    # account (others see only theirs); public: the sign-in pages themselves.
    kind: str = "object"

    def data(self, browser: ConsoleBrowser, world: World) -> dict[str, Any]:
        return self.form(browser, world) if callable(self.form) else dict(self.form)

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule}"


def bot(name: str, suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/console/bots/{w.tenant.bots[name]}{suffix}"


def client(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/console/clients/{w.tenant.client_id}{suffix}"


PAGES = [
    Page("GET", "/console/", lambda w: "/console/", kind="own"),
    Page("GET", "/console/clients", lambda w: "/console/clients", kind="own"),
    Page("GET", "/console/clients/new", lambda w: "/console/clients/new", kind="own"),
    Page(
        "POST",
        "/console/clients/new",
        lambda w: "/console/clients/new",
        {"name": "Second site", "origins": "https://second.example"},
        kind="own",
    ),
    Page("GET", "/console/clients/<client_id>", client()),
    Page(
        "POST",
        "/console/clients/<client_id>",
        client(),
        {"origins": "https://changed.example", "ip_allowlist": "10.0.0.0/8"},
        302,
    ),
    Page(
        "POST",
        "/console/clients/<client_id>/rotate-secret",
        client("/rotate-secret"),
        {"grace": 60},
    ),
    Page("POST", "/console/clients/<client_id>/jwks", client("/jwks"), {"jwks": ""}, 302),
    Page("POST", "/console/clients/<client_id>/native", client("/native"), {}, 302),
    Page("POST", "/console/clients/<client_id>/disable", client("/disable"), YES, 302),
    Page("POST", "/console/clients/<client_id>/enable", client("/enable"), owner_status=302),
    Page("GET", "/console/bots", lambda w: "/console/bots", kind="own"),
    Page("GET", "/console/bots/new", lambda w: "/console/bots/new", kind="own"),
    Page("POST", "/console/bots/new", lambda w: "/console/bots/new", BOT_FORM, 302, kind="own"),
    Page("GET", "/console/bots/<bot_id>", bot("billing")),
    Page("POST", "/console/bots/<bot_id>", bot("billing"), BOT_FORM, 302),
    Page("POST", "/console/bots/<bot_id>/delete", bot("billing", "/delete"), YES, 302),
    Page(
        "POST",
        "/console/bots/<bot_id>/faq",
        bot("billing", "/faq"),
        {"faq-question": "New question?", "faq-answer": "New answer."},
        302,
    ),
    Page("GET", "/console/bots/<bot_id>/faq/<int:number>", bot("billing", "/faq/1")),
    Page(
        "POST",
        "/console/bots/<bot_id>/faq/<int:number>",
        bot("billing", "/faq/1"),
        {"question": "Edited?", "answer": "Edited."},
        302,
    ),
    Page(
        "POST",
        "/console/bots/<bot_id>/faq/<int:number>/remove",
        bot("billing", "/faq/1/remove"),
        owner_status=302,
    ),
    Page("GET", "/console/bots/<bot_id>/members", bot("billing", "/members")),
    Page(
        "POST",
        "/console/bots/<bot_id>/members",
        bot("billing", "/members"),
        {"partner_user_id": "zoe"},
        302,
    ),
    Page(
        "POST",
        "/console/bots/<bot_id>/members/remove",
        bot("billing", "/members/remove"),
        lambda b, w: {"partner_user_id": w.user, **YES},
        302,
    ),
    Page("GET", "/console/sessions", lambda w: f"/console/sessions?user={w.user}", kind="own"),
    Page(
        "POST",
        "/console/sessions/<session_id>/revoke",
        lambda w: f"/console/sessions/{w.session_id}/revoke",
        YES,
        302,
    ),
    Page(
        "POST",
        "/console/sessions/revoke-all",
        lambda w: "/console/sessions/revoke-all",
        lambda b, w: {"partner_user_id": w.user, **YES},
        302,
    ),
    Page("GET", "/console/events", lambda w: "/console/events", kind="own"),
    Page("GET", "/console/events.csv", lambda w: "/console/events.csv", kind="own"),
    Page("GET", "/console/install", lambda w: f"/console/install?client={w.tenant.client_id}"),
    Page("GET", "/console/team", lambda w: "/console/team", kind="own"),
    Page(
        "POST",
        "/console/team",
        lambda w: "/console/team",
        lambda b, w: {"email": f"new-{secrets.token_hex(3)}@example.com", "password": "x" * 16},
        302,
        kind="own",
    ),
    Page(
        "POST",
        "/console/team/<user_id>/remove",
        lambda w: f"/console/team/{w.colleague_id}/remove",
        YES,
        302,
    ),
    Page("GET", "/console/account", lambda w: "/console/account", kind="own"),
    Page("GET", "/console/account/two-factor", lambda w: "/console/account/two-factor", kind="own"),
    Page(
        "POST",
        "/console/account/two-factor",
        lambda w: "/console/account/two-factor",
        enrolment_code,
        302,
        kind="own",
    ),
    Page(
        "POST",
        "/console/account/two-factor/off",
        lambda w: "/console/account/two-factor/off",
        owner_status=302,
        kind="own",
    ),
    Page("POST", "/console/sign-out", lambda w: "/console/sign-out", owner_status=302, kind="own"),
    Page("GET", "/console/sign-in", lambda w: "/console/sign-in", kind="public"),
    Page("POST", "/console/sign-in", lambda w: "/console/sign-in", kind="public"),
    Page("GET", "/console/sign-in/code", lambda w: "/console/sign-in/code", kind="public"),
    Page("POST", "/console/sign-in/code", lambda w: "/console/sign-in/code", kind="public"),
    Page("GET", "/console/sign-up", lambda w: "/console/sign-up", kind="public"),
    Page("POST", "/console/sign-up", lambda w: "/console/sign-up", kind="public"),
]
PRIVATE = [p for p in PAGES if p.kind != "public"]


def console_rules(server: LiveServer) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in server.app.url_map.iter_rules()
        if rule.endpoint.startswith("console.")
        and rule.endpoint not in ("console.static", "console.not_found")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def snapshot(world: World) -> dict[str, Any]:
    """Everything of the owner a stranger might try to read or change."""
    from sqlalchemy import select

    from authserver import registry
    from authserver.models import Bot, Client, ConsoleUser
    from authserver.sessions import active_sessions

    tenant = world.tenant
    with tenant.server.app.app_context():
        customer = tenant.customer_id
        client = db.session.get(Client, tenant.client_id)
        assert client is not None
        bots = db.session.execute(select(Bot).where(Bot.customer_id == customer)).scalars()
        state = {
            "client": (
                client.allowed_origins,
                client.ip_allowlist,
                client.enabled,
                client.secret_hash,
                client.jwks,
                client.name,
            ),
            "bots": sorted(
                (b.id, b.name, b.greeting, b.access, b.enabled, len(b.faq), registry.members(b))
                for b in bots
            ),
            "sessions": sorted(
                s.id for s in db.session.execute(active_sessions(customer)).scalars()
            ),
            "clients": len(
                db.session.execute(select(Client).where(Client.customer_id == customer)).all()
            ),
            "console_users": sorted(
                db.session.execute(
                    select(ConsoleUser.id).where(ConsoleUser.customer_id == customer)
                ).scalars()
            ),
        }
        db.session.remove()
    return state


def send(browser: ConsoleBrowser, page: Page, world: World) -> Any:
    path = page.path(world)
    if page.method == "GET":
        return browser.get(path)
    return browser.post(path, page.data(browser, world))


def test_every_console_route_is_in_the_matrix(server: LiveServer) -> None:
    assert console_rules(server) == {(p.method, p.rule) for p in PAGES}


@pytest.mark.parametrize("page", PRIVATE, ids=[p.id for p in PRIVATE])
def test_the_owner_reaches_it(page: Page, world: World, owner: ConsoleBrowser) -> None:
    response = send(owner, page, world)
    assert response.status_code == page.owner_status, response.text[:2000]
    if response.status_code == 302:
        assert "/console/sign-in" not in response.headers["Location"] or page.rule.endswith(
            "sign-out"
        )


@pytest.mark.parametrize("page", PRIVATE, ids=[p.id for p in PRIVATE])
def test_another_customer_gets_404_and_changes_nothing(
    page: Page, world: World, stranger: ConsoleBrowser
) -> None:
    before = snapshot(world)
    sent = page.path(world)
    response = send(stranger, page, world)
    if page.kind == "object":
        assert response.status_code == 404, response.text[:2000]
        assert "belongs to another account" in response.text
    else:
        assert response.status_code in (page.owner_status, 200, 302), response.text[:2000]
    text = response.text
    owner_ids = [
        world.tenant.client_id,
        world.session_id,
        world.user,
        world.colleague_email,
        *world.tenant.bots.values(),
    ]
    # Nothing of the owner's shows, except what the stranger typed in themselves.
    assert not [value for value in owner_ids if value in text and value not in sent]
    assert snapshot(world) == before


@pytest.mark.parametrize("page", PRIVATE, ids=[p.id for p in PRIVATE])
def test_signed_out_is_sent_to_sign_in(page: Page, world: World, anonymous: ConsoleBrowser) -> None:
    before = snapshot(world)
    response = send(anonymous, page, world)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in")
    assert snapshot(world) == before


def test_an_unknown_console_path_is_a_404_page(owner: ConsoleBrowser) -> None:
    response = owner.get("/console/no/such/page")
    assert response.status_code == 404 and "Page not found" in response.text
    assert response.headers["Content-Type"].startswith("text/html")


def test_someone_elses_id_reads_exactly_like_a_missing_one(
    world: World, stranger: ConsoleBrowser
) -> None:
    tenant = world.tenant
    pairs = [
        (f"/console/clients/{tenant.client_id}", "/console/clients/cf_doesnotexist000000000"),
        (f"/console/bots/{tenant.bots['billing']}", "/console/bots/bot_doesnotexist000000000"),
        (
            f"/console/bots/{tenant.bots['billing']}/members",
            "/console/bots/bot_doesnotexist000000000/members",
        ),
    ]
    for theirs, missing in pairs:
        a, b = stranger.get(theirs), stranger.get(missing)
        assert (a.status_code, b.status_code) == (404, 404)
        assert without_csrf(a.text) == without_csrf(b.text)
    revoke = stranger.post(f"/console/sessions/{world.session_id}/revoke")
    nothing = stranger.post("/console/sessions/ses_doesnotexist00000000/revoke")
    assert without_csrf(revoke.text) == without_csrf(nothing.text)


def without_csrf(page: str) -> str:
    """The page without its CSRF token, which carries a timestamp."""
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page)
