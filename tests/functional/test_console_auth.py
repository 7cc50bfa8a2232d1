"""Console sign-up, sign-in, back-off, two-factor, sign-out, CSRF and the pages' headers."""

from __future__ import annotations

import json
import re
import time

import requests

from authserver.extensions import db
from tests.conftest import LiveServer, Tenant
from tests.functional.conftest import (
    PASSWORD,
    ConsoleBrowser,
    create_console_user,
    totp_code,
)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def sign_up(browser: ConsoleBrowser, email: str, **fields: str) -> requests.Response:
    form = {"company": "Acme Travel", "email": email, "password": PASSWORD, "confirm": PASSWORD}
    return browser.post("/console/sign-up", {**form, **fields})


def unique_email() -> str:
    return f"ana-{time.monotonic_ns()}@acme.example"


def test_sign_up_creates_a_customer_and_signs_in(server: LiveServer) -> None:
    browser = ConsoleBrowser(server)
    assert browser.get("/console/sign-up").status_code == 200
    response = sign_up(browser, unique_email(), company="Acme Travel")
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    overview = browser.get("/console/")
    assert overview.status_code == 200 and "Acme Travel" in overview.text


def test_sign_up_refuses_an_email_that_has_an_account(server: LiveServer) -> None:
    email = unique_email()
    assert sign_up(ConsoleBrowser(server), email).status_code == 302
    again = sign_up(ConsoleBrowser(server), email.upper())
    assert again.status_code == 400
    assert "already has a console account" in again.text


def test_sign_up_explains_bad_input(server: LiveServer) -> None:
    browser = ConsoleBrowser(server)
    short = sign_up(browser, unique_email(), password="short", confirm="short")
    assert short.status_code == 400 and "at least 12 characters" in short.text
    mismatch = sign_up(browser, unique_email(), confirm=PASSWORD + "!")
    assert mismatch.status_code == 400 and "The two passwords differ." in mismatch.text
    bad_email = sign_up(browser, "not-an-email")
    assert bad_email.status_code == 400 and "is not an email address" in bad_email.text
    assert browser.get("/console/").status_code == 302  # none of them signed anyone in


def test_sign_up_can_be_turned_off(server: LiveServer) -> None:
    server.configure(console_signup=False)
    browser = ConsoleBrowser(server)
    assert browser.get("/console/sign-up").status_code == 404
    assert sign_up(browser, unique_email()).status_code == 404
    assert "Create an account" not in browser.get("/console/sign-in").text


def test_sign_up_is_closed_in_production_unless_enabled(server: LiveServer) -> None:
    server.configure(env="production")
    assert ConsoleBrowser(server).get("/console/sign-up").status_code == 404
    server.configure(env="production", console_signup=True)
    assert ConsoleBrowser(server).get("/console/sign-up").status_code == 200


def test_sign_in_and_the_sign_in_event(tenant: Tenant) -> None:
    email = create_console_user(tenant)
    browser = ConsoleBrowser(tenant.server)
    response = browser.sign_in(email)
    assert response.status_code == 302
    assert email in browser.get("/console/account").text
    event = tenant.events("console_sign_in_ok")[-1]
    assert event["detail"]["console_user_id"].startswith("cu_")
    assert email not in json.dumps(event)


def test_wrong_password_is_refused_and_recorded_without_secrets(tenant: Tenant) -> None:
    email = create_console_user(tenant)
    browser = ConsoleBrowser(tenant.server)
    response = browser.sign_in(email, "wrong password, clearly")
    assert response.status_code == 401
    assert "do not match" in response.text
    assert browser.get("/console/").status_code == 302
    failed = tenant.events("console_sign_in_failed")
    assert failed and failed[-1]["detail"]["reason"] == "wrong_password"
    assert "wrong password" not in json.dumps(failed) and email not in json.dumps(failed)


def test_repeated_failures_back_off_even_the_right_password(tenant: Tenant) -> None:
    tenant.server.configure(console_lockout_after=3, console_lockout_seconds=2)
    email = create_console_user(tenant)
    browser = ConsoleBrowser(tenant.server)
    assert browser.sign_in(email, "guess one, wrong").status_code == 401
    assert browser.sign_in(email, "guess two, wrong").status_code == 401
    locked = browser.sign_in(email, "guess three, wrong")
    assert locked.status_code == 429
    assert "Too many failed sign-ins: wait 2 seconds" in locked.text
    refused = browser.sign_in(email, PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert browser.get("/console/").status_code == 302
    time.sleep(2.2)
    assert browser.sign_in(email, PASSWORD).status_code == 302
    # A successful sign-in starts the count afresh.
    other = ConsoleBrowser(tenant.server)
    assert other.sign_in(email, "one more wrong guess").status_code == 401


def test_failed_sign_ins_are_reported_after_signing_in(tenant: Tenant) -> None:
    email = create_console_user(tenant)
    browser = ConsoleBrowser(tenant.server)
    assert browser.sign_in(email, "not the password").status_code == 401
    browser.csrf = None
    response = browser.post("/console/sign-in", {"email": email, "password": PASSWORD})
    assert response.status_code == 302
    assert "1 failed sign-in attempts" in browser.get("/console/").text


def test_an_unknown_email_backs_off_exactly_like_a_real_one(server: LiveServer) -> None:
    server.configure(console_lockout_after=2, console_lockout_seconds=30)
    browser = ConsoleBrowser(server)
    email = unique_email()  # no such account
    first = browser.sign_in(email, "anything at all")
    assert first.status_code == 401 and "do not match" in first.text
    assert browser.sign_in(email, "anything at all").status_code == 429


def test_sign_out_ends_the_session_even_for_a_copied_cookie(owner: ConsoleBrowser) -> None:
    stolen = requests.Session()
    stolen.cookies.update(owner.http.cookies)
    assert stolen.get(owner.server.url + "/console/", allow_redirects=False).status_code == 200
    response = owner.post("/console/sign-out")
    assert response.status_code == 302 and "/console/sign-in" in response.headers["Location"]
    assert owner.get("/console/").status_code == 302
    replay = stolen.get(owner.server.url + "/console/", allow_redirects=False)
    assert replay.status_code == 302 and "/console/sign-in" in replay.headers["Location"]


def test_forms_without_a_csrf_token_are_refused(owner: ConsoleBrowser, tenant: Tenant) -> None:
    form = {"name": "csrf probe", "origins": "https://csrf.example"}
    missing = owner.post("/console/clients/new", form, csrf=False)
    assert missing.status_code == 400 and "did not come from this console" in missing.text
    wrong = owner.post("/console/clients/new", {**form, "csrf_token": "forged"})
    assert wrong.status_code == 400
    foreign = ConsoleBrowser(tenant.server).csrf_token()  # a valid token of another browser
    assert owner.post("/console/clients/new", {**form, "csrf_token": foreign}).status_code == 400
    assert "csrf probe" not in owner.get("/console/clients").text
    assert owner.post("/console/clients/new", form).status_code == 200  # with its own token


def test_the_sign_in_form_needs_a_csrf_token_too(tenant: Tenant) -> None:
    email = create_console_user(tenant)
    browser = ConsoleBrowser(tenant.server)
    response = browser.post("/console/sign-in", {"email": email, "password": PASSWORD}, csrf=False)
    assert response.status_code == 400
    assert browser.get("/console/").status_code == 302


def test_sign_in_never_redirects_to_another_site(tenant: Tenant) -> None:
    email = create_console_user(tenant)
    browser = ConsoleBrowser(tenant.server)
    browser.csrf_token()
    for target in ("https://evil.example/", "//evil.example/console/", "/oauth/token"):
        browser.http.cookies.clear()
        browser.csrf = None
        browser.csrf_token()
        response = browser.http.post(
            tenant.server.url + "/console/sign-in",
            params={"next": target},
            data={"email": email, "password": PASSWORD, "csrf_token": browser.csrf},
            allow_redirects=False,
            timeout=30,
        )
        assert response.headers["Location"] == "/console/", target


def test_sign_in_returns_to_the_page_asked_for(tenant: Tenant) -> None:
    email = create_console_user(tenant)
    browser = ConsoleBrowser(tenant.server)
    redirect = browser.get("/console/bots")
    assert redirect.headers["Location"] == "/console/sign-in?next=/console/bots"
    browser.csrf_token()
    response = browser.http.post(
        tenant.server.url + "/console/sign-in?next=/console/bots",
        data={"email": email, "password": PASSWORD, "csrf_token": browser.csrf},
        allow_redirects=False,
        timeout=30,
    )
    assert response.headers["Location"] == "/console/bots"


def enrol_totp(owner: ConsoleBrowser) -> str:
    page = owner.get("/console/account/two-factor")
    assert page.status_code == 200 and 'src="data:image/svg+xml' in page.text
    match = re.search(r'id="totp-key"[^>]*>([A-Z2-7]+)<', page.text)
    assert match
    secret = match.group(1)
    wrong = owner.post("/console/account/two-factor", {"code": "000000"})
    assert wrong.status_code == 400 and "does not match" in wrong.text
    enrolled = owner.post("/console/account/two-factor", {"code": totp_code(secret)})
    assert enrolled.status_code == 302
    return secret


def test_totp_enrolment_then_sign_in_needs_the_code(tenant: Tenant, owner: ConsoleBrowser) -> None:
    secret = enrol_totp(owner)
    assert "badge-ok" in owner.get("/console/account").text
    owner.post("/console/sign-out")

    browser = ConsoleBrowser(tenant.server)
    step_one = browser.sign_in(owner.email or "")
    assert step_one.status_code == 302
    assert step_one.headers["Location"].startswith("/console/sign-in/code")
    assert browser.get("/console/").status_code == 302  # the password alone signs nobody in
    assert browser.get("/console/sign-in/code").status_code == 200
    valid = {totp_code(secret, offset) for offset in (-1, 0, 1, 2)}
    wrong = browser.enter_code(next(c for c in ("123456", "654321", "111111") if c not in valid))
    assert wrong.status_code == 401 and "not right" in wrong.text
    assert browser.get("/console/").status_code == 302
    code = totp_code(secret, +1)  # the next step's code: enrolment used this step's (once)
    assert browser.enter_code(code).status_code == 302
    assert browser.get("/console/").status_code == 200

    replay = ConsoleBrowser(tenant.server)
    assert replay.sign_in(owner.email or "").status_code == 302
    assert replay.enter_code(code).status_code == 401  # each code works once
    assert tenant.events("console_sign_in_failed")[-1]["detail"]["reason"] == "wrong_code"


def test_totp_secret_is_stored_encrypted(tenant: Tenant, owner: ConsoleBrowser) -> None:
    from sqlalchemy import select

    from authserver.models import ConsoleUser

    secret = enrol_totp(owner)
    with tenant.server.app.app_context():
        stored = db.session.execute(
            select(ConsoleUser.totp_secret).where(ConsoleUser.email == owner.email)
        ).scalar_one()
        db.session.remove()
    assert stored and secret not in stored


def test_totp_can_be_turned_off_with_a_code(owner: ConsoleBrowser) -> None:
    secret = enrol_totp(owner)
    refused = owner.post("/console/account/two-factor/off", {"code": "000000"})
    assert refused.status_code == 400
    next_code = totp_code(secret, +1)  # enrolment used this step's code, and each works once
    assert owner.post("/console/account/two-factor/off", {"code": next_code}).status_code == 302
    assert "badge-off" in owner.get("/console/account").text


def test_pages_send_a_strict_csp_and_carry_no_inline_code(owner: ConsoleBrowser) -> None:
    for path in ("/console/", "/console/clients/new", "/console/bots/new", "/console/install"):
        page = owner.get(path)
        assert page.status_code == 200
        assert page.headers["Content-Security-Policy"] == CSP
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Cache-Control"] == "no-store"
        assert not re.search(r"\sstyle=", page.text)
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page.text)
        assert not re.search(r"\son[a-z]+=", page.text)
    sign_in = ConsoleBrowser(owner.server).get("/console/sign-in")
    assert sign_in.headers["Content-Security-Policy"] == CSP


def test_static_files_load_before_sign_in(server: LiveServer) -> None:
    for name, kind in (("console.css", "text/css"), ("console.js", "javascript")):
        response = requests.get(f"{server.url}/console/static/{name}", timeout=30)
        assert response.status_code == 200 and kind in response.headers["Content-Type"]


def test_the_cookie_is_scoped_to_the_console(owner: ConsoleBrowser) -> None:
    cookie = next(c for c in owner.http.cookies if c.name == "chatframe_console")
    assert cookie.path == "/console"
    assert cookie.has_nonstandard_attr("HttpOnly")
