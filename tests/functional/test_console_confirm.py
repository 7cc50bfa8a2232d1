"""Every destructive console action asks first: without the confirmation nothing happens."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Tenant, assert_refused
from tests.embed import Iframe
from tests.functional.conftest import YES, ConsoleBrowser, create_console_user


@dataclass
class Setup:
    tenant: Tenant
    iframe: Iframe
    colleague: str
    colleague_id: str


@pytest.fixture
def setup(tenant: Tenant) -> Setup:
    from sqlalchemy import select

    from authserver.extensions import db
    from authserver.models import ConsoleUser

    iframe = tenant.session("alice", [tenant.bots["billing"]])
    colleague = create_console_user(tenant)
    with tenant.server.app.app_context():
        colleague_id = db.session.execute(
            select(ConsoleUser.id).where(ConsoleUser.email == colleague)
        ).scalar_one()
        db.session.remove()
    return Setup(tenant, iframe, colleague, colleague_id)


def session_id(s: Setup) -> str:
    return str(s.tenant.backend.introspect(s.iframe.tokens["access_token"]).json()["sid"])


def bot_exists(s: Setup) -> bool:
    return s.tenant.backend.exchange(s.tenant.iframe(), "alice", [s.tenant.bots["billing"]]).ok


def client_works(s: Setup) -> bool:
    return s.tenant.backend.client_credentials().ok


def session_alive(s: Setup) -> bool:
    return s.iframe.refresh().ok


def colleague_exists(s: Setup) -> bool:
    return ConsoleBrowser(s.tenant.server).sign_in(s.colleague).status_code == 302


@dataclass(frozen=True)
class Action:
    name: str
    path: Callable[[Setup], str]
    form: Callable[[Setup], dict[str, Any]]
    still_there: Callable[[Setup], bool]
    button: str


ACTIONS = [
    Action(
        "delete bot",
        lambda s: f"/console/bots/{s.tenant.bots['billing']}/delete",
        lambda s: {},
        bot_exists,
        "Delete bot",
    ),
    Action(
        "disable client",
        lambda s: f"/console/clients/{s.tenant.client_id}/disable",
        lambda s: {},
        client_works,
        "Disable client",
    ),
    Action(
        "remove member",
        lambda s: f"/console/bots/{s.tenant.bots['billing']}/members/remove",
        lambda s: {"partner_user_id": "alice"},
        bot_exists,
        "Remove member",
    ),
    Action(
        "revoke session",
        lambda s: f"/console/sessions/{session_id(s)}/revoke",
        lambda s: {"user": "alice"},
        session_alive,
        "Revoke session",
    ),
    Action(
        "revoke all sessions",
        lambda s: "/console/sessions/revoke-all",
        lambda s: {"partner_user_id": "alice"},
        session_alive,
        "Revoke all sessions",
    ),
    Action(
        "remove console user",
        lambda s: f"/console/team/{s.colleague_id}/remove",
        lambda s: {},
        colleague_exists,
        "Remove console user",
    ),
]


def hidden_fields(page: str) -> dict[str, str]:
    form = re.search(
        r'<form method="post" action="([^"]+)"[^>]*id="confirm-form">(.*?)</form>', page, re.S
    )
    assert form, "no confirmation form"
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2))
    return {name: html.unescape(value) for name, value in fields} | {"action": form.group(1)}


@pytest.mark.parametrize("action", ACTIONS, ids=[a.name for a in ACTIONS])
def test_nothing_happens_until_the_action_is_confirmed(
    action: Action, setup: Setup, owner: ConsoleBrowser
) -> None:
    path, form = action.path(setup), action.form(setup)
    asked = owner.post(path, form)
    assert asked.status_code == 200
    assert f">{action.button}</button>" in asked.text and "Cancel" in asked.text
    assert action.still_there(setup), "the action happened without confirmation"

    # The confirmation page's own form (no JavaScript needed) does it.
    fields = hidden_fields(asked.text)
    assert fields.pop("action") == path
    assert fields.pop("confirm") == "yes"
    assert {k: v for k, v in fields.items() if k != "csrf_token"} == form
    done = owner.post(path, fields | YES)
    assert done.status_code == 302
    assert not action.still_there(setup)


def test_a_refused_confirmation_still_needs_a_csrf_token(
    setup: Setup, owner: ConsoleBrowser
) -> None:
    path = f"/console/bots/{setup.tenant.bots['billing']}/delete"
    forged = owner.post(path, {**YES, "csrf_token": "forged"})
    assert forged.status_code == 400
    assert bot_exists(setup)


def test_removing_a_member_after_confirming_refuses_their_next_code(
    setup: Setup, owner: ConsoleBrowser
) -> None:
    bot_id = setup.tenant.bots["billing"]
    owner.post(f"/console/bots/{bot_id}/members/remove", {"partner_user_id": "alice", **YES})
    exchange = setup.tenant.backend.exchange(setup.tenant.iframe(), "alice", [bot_id])
    assert_refused(exchange, 400, "invalid_target")
