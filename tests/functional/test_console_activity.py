"""Sessions and security events in the console: revoke one or all, filter, export as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
import secrets

from tests.conftest import Tenant, assert_refused
from tests.functional.conftest import YES, ConsoleBrowser


def session_id(tenant: Tenant, iframe_tokens: dict[str, str]) -> str:
    sid = tenant.backend.introspect(iframe_tokens["access_token"]).json()["sid"]
    return str(sid)


def test_sessions_are_listed_per_user_and_revoked_one_at_a_time(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    first = tenant.session("alice", [tenant.bots["billing"]])
    second = tenant.session("alice", [tenant.bots["welcome"]])
    bobs = tenant.session("bob", [tenant.bots["support"]])
    first_id, second_id = session_id(tenant, first.tokens), session_id(tenant, second.tokens)
    bobs_id = session_id(tenant, bobs.tokens)

    everyone = owner.get("/console/sessions").text
    assert all(sid in everyone for sid in (first_id, second_id, bobs_id))
    alices = owner.get("/console/sessions", user="alice").text
    assert first_id in alices and second_id in alices and bobs_id not in alices

    revoked = owner.post(f"/console/sessions/{first_id}/revoke", {"user": "alice", **YES})
    assert revoked.status_code == 302
    assert revoked.headers["Location"] == "/console/sessions?user=alice"
    assert_refused(first.refresh(), 400, "invalid_grant")
    assert second.refresh().status_code == 200
    after = owner.get("/console/sessions", user="alice").text
    assert f"Session {first_id} is revoked" in after  # the flash, once
    assert f"<code>{first_id}</code>" not in after and f"<code>{second_id}</code>" in after
    event = tenant.events("session_revoked")[-1]
    assert event["detail"] == {"session_id": first_id, "reason": "revoked_in_console"}
    again = owner.post(f"/console/sessions/{first_id}/revoke", YES)
    assert again.status_code == 302 and "had already ended" in owner.get("/console/sessions").text


def test_revoke_every_session_of_a_user(owner: ConsoleBrowser, tenant: Tenant) -> None:
    first = tenant.session("alice", [tenant.bots["billing"]])
    second = tenant.session("alice", [tenant.bots["welcome"]])
    bobs = tenant.session("bob", [tenant.bots["support"]])
    response = owner.post("/console/sessions/revoke-all", {"partner_user_id": "alice", **YES})
    assert response.status_code == 302
    assert "Revoked 2 sessions of alice" in owner.get("/console/sessions", user="alice").text
    for iframe in (first, second):
        assert_refused(iframe.refresh(), 400, "invalid_grant")
    assert bobs.refresh().status_code == 200
    unknown = owner.post("/console/sessions/revoke-all", {"partner_user_id": "nobody", **YES})
    assert unknown.status_code == 404


def run_the_flow(tenant: Tenant) -> tuple[str, dict[str, str]]:
    """Exchange and redeem once; return the embed code and the iframe's tokens."""
    iframe = tenant.iframe()
    response = tenant.backend.exchange(iframe, "alice", [tenant.bots["billing"]])
    assert response.status_code == 200
    code = response.json()["access_token"]
    assert iframe.redeem(code).status_code == 200
    return code, iframe.tokens


def test_events_page_filters_by_type_client_user_and_time(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    run_the_flow(tenant)
    issued = tenant.events("code_issued")[-1]
    everything = owner.get("/console/events").text
    assert "event-code_issued" in everything and "event-code_redeemed" in everything
    assert tenant.client_id in everything and issued["partner_user"] in everything

    only_issued = owner.get("/console/events", type="code_issued").text
    assert "event-code_issued" in only_issued and "event-code_redeemed" not in only_issued
    by_client = owner.get("/console/events", client=tenant.client_id).text
    assert "event-code_issued" in by_client
    assert "event-code_issued" not in owner.get("/console/events", client="cf_other").text
    by_user = owner.get("/console/events", user="alice").text
    assert "event-code_issued" in by_user and "event-console_sign_in_ok" not in by_user
    assert "event-code_issued" in owner.get("/console/events", user=issued["partner_user"]).text
    assert "No events match" in owner.get("/console/events", user="nobody").text
    future = owner.get("/console/events", since="2999-01-01T00:00").text
    assert "No events match" in future
    past = owner.get("/console/events", since="2000-01-01T00:00", until="2999-01-01T00:00")
    assert "event-code_issued" in past.text


def test_bad_event_filters_are_explained(owner: ConsoleBrowser) -> None:
    bad_time = owner.get("/console/events", since="last tuesday")
    assert bad_time.status_code == 400 and "is not a time" in bad_time.text
    bad_type = owner.get("/console/events", type="code_stolen")
    assert bad_type.status_code == 400 and "pick a type from the list" in bad_type.text
    assert owner.get("/console/events.csv", until="soon").status_code == 400
    assert owner.get("/console/events", cursor="not-a-cursor").status_code == 400


def test_csv_export_has_the_flow_and_no_secrets(owner: ConsoleBrowser, tenant: Tenant) -> None:
    code, tokens = run_the_flow(tenant)
    response = owner.get("/console/events.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    types = [row["type"] for row in rows]
    assert {"console_sign_in_ok", "code_issued", "code_redeemed"} <= set(types)
    issued = next(row for row in rows if row["type"] == "code_issued")
    assert issued["client_id"] == tenant.client_id and issued["id"].startswith("evt_")
    assert issued["partner_user"].startswith("usr_")
    json.loads(issued["detail"])
    for secret in (
        tenant.client_secret,
        code,
        tokens["access_token"],
        tokens["refresh_token"],
        tokens["id_token"],
        "alice",
    ):
        assert secret not in response.text

    only = owner.get("/console/events.csv", type="code_redeemed").text
    assert {row["type"] for row in csv.DictReader(io.StringIO(only))} == {"code_redeemed"}


def test_csv_cells_never_start_a_spreadsheet_formula(owner: ConsoleBrowser, tenant: Tenant) -> None:
    from authserver import events
    from authserver.events import EventType
    from authserver.extensions import db

    with tenant.server.app.app_context():
        events.record(
            EventType.EXCHANGE_DENIED, customer_id=tenant.customer_id, ip="=1+2", reason="=cmd"
        )
        db.session.remove()
    text = owner.get("/console/events.csv", type="exchange_denied").text
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["ip"] == "'=1+2"
    assert not re.search(r"(^|,)[=+@-]", text.splitlines()[1])


def test_why_cant_a_user_chat_is_answered_by_their_refusals(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    """A user never seen before, refused a members-only bot, is found by the customer's own id."""
    newcomer = f"newcomer-{secrets.token_hex(3)}"
    billing = tenant.bots["billing"]
    refused = tenant.backend.exchange(tenant.iframe(), newcomer, [billing])
    assert refused.status_code == 400
    denied = tenant.events("exchange_denied")[-1]
    assert denied["partner_user"] and denied["partner_user"].startswith("usr_")
    assert denied["detail"] == {"reason": "bot", "bots": {billing: "not_a_member"}}

    page = owner.get("/console/events", user=newcomer, type="exchange_denied")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert f"{newcomer} is {denied['partner_user']} in tokens and events" in strip_tags(text)
    assert f"{billing} : not a member" in text
    assert "reason: bot not available to this user" in text

    # Once a member, the same user gets a code, under the same pairwise id.
    with tenant.server.app.app_context():
        from authserver import registry
        from authserver.extensions import db

        registry.add_member(registry.get_bot(billing), newcomer)
        db.session.remove()
    assert tenant.backend.exchange(tenant.iframe(), newcomer, [billing]).ok
    assert tenant.events("code_issued")[-1]["partner_user"] == denied["partner_user"]


def test_a_user_chatframe_never_saw_is_said_so(owner: ConsoleBrowser) -> None:
    page = owner.get("/console/events", user="never-seen-anywhere", type="exchange_denied")
    assert "Chatframe has never seen" in page.text
    assert "never-seen-anywhere" in page.text


def strip_tags(text: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", text).split())


def test_sessions_idle_longer_than_an_access_token_show_as_inactive(
    owner: ConsoleBrowser, tenant: Tenant
) -> None:
    from sqlalchemy import update

    from authserver.extensions import db
    from authserver.models import RefreshToken, utcnow

    busy = tenant.session("alice", [tenant.bots["billing"]])
    idle = tenant.session("alice", [tenant.bots["welcome"]])
    busy_id, idle_id = session_id(tenant, busy.tokens), session_id(tenant, idle.tokens)
    ttl = tenant.server.settings.access_token_ttl
    with tenant.server.app.app_context():  # idle's last tokens are older than an access token
        db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.session_id == idle_id)
            .values(created_at=utcnow() - dt.timedelta(seconds=ttl + 60))
        )
        db.session.commit()
        db.session.remove()

    def status(page: str, sid: str) -> str:
        row = re.search(rf"<tr>(?:(?!</tr>).)*<code>{sid}</code>(?:(?!</tr>).)*</tr>", page, re.S)
        assert row, f"{sid} not listed"
        return "inactive" if "session-inactive" in row.group(0) else "active"

    page = owner.get("/console/sessions", user="alice").text
    assert (status(page, busy_id), status(page, idle_id)) == ("active", "inactive")
    assert idle.refresh().status_code == 200  # a refresh is a sign of life
    page = owner.get("/console/sessions", user="alice").text
    assert status(page, idle_id) == "active"
