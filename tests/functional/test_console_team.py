"""Several console users per customer: add one, they sign in, remove one, their session ends."""

from __future__ import annotations

import re

from tests.conftest import Tenant
from tests.functional.conftest import PASSWORD, YES, ConsoleBrowser


def test_a_console_user_adds_a_colleague_who_can_sign_in(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    email = "colleague@acme.example"
    added = owner.post("/console/team", {"email": email, "password": PASSWORD})
    assert added.status_code == 302
    assert email in owner.get("/console/team").text
    colleague = ConsoleBrowser(tenant.server)
    assert colleague.sign_in(email).status_code == 302
    assert tenant.client_id in colleague.get("/console/clients").text  # the same customer


def test_bad_colleagues_are_explained(owner: ConsoleBrowser) -> None:
    short = owner.post("/console/team", {"email": "x@acme.example", "password": "short"})
    assert short.status_code == 400 and "at least 12 characters" in short.text
    taken = owner.post("/console/team", {"email": owner.email or "", "password": PASSWORD})
    assert taken.status_code == 400 and "already has a console account" in taken.text


def test_removing_a_colleague_ends_their_session(owner: ConsoleBrowser, tenant: Tenant) -> None:
    email = "leaver@acme.example"
    owner.post("/console/team", {"email": email, "password": PASSWORD})
    leaver = ConsoleBrowser(tenant.server)
    assert leaver.sign_in(email).status_code == 302
    team = owner.get("/console/team").text
    match = re.search(r'action="/console/team/(cu_\w+)/remove"', team)
    assert match
    assert owner.post(f"/console/team/{match.group(1)}/remove", YES).status_code == 302
    assert f"{email} can no longer sign in" in owner.get("/console/team").text
    assert leaver.get("/console/").status_code == 302
    assert ConsoleBrowser(tenant.server).sign_in(email).status_code == 401


def test_nobody_removes_themselves(owner: ConsoleBrowser, tenant: Tenant) -> None:
    from sqlalchemy import select

    from authserver.extensions import db
    from authserver.models import ConsoleUser

    with tenant.server.app.app_context():
        me = db.session.execute(
            select(ConsoleUser.id).where(ConsoleUser.email == owner.email)
        ).scalar_one()
        db.session.remove()
    response = owner.post(f"/console/team/{me}/remove", YES)
    assert response.status_code == 302
    assert "cannot remove yourself" in owner.get("/console/team").text
    assert owner.get("/console/").status_code == 200
