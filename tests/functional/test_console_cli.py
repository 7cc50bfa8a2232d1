"""``chatframe console-users create``: the operator gives a customer its first console user."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import Result

from authserver import create_app
from authserver.config import load_settings
from authserver.extensions import db
from tests.functional.conftest import PASSWORD, run


def customer(env: dict[str, str]) -> str:
    result = run(env, "customers", "create", "--name", "Acme", "--json")
    return str(json.loads(result.output)["customer_id"])


def create(env: dict[str, str], customer_id: str, email: str, password: str) -> Result:
    return run(
        env,
        "console-users",
        "create",
        "--customer",
        customer_id,
        "--email",
        email,
        "--password-stdin",
        "--json",
        input=password + "\n",
    )


def test_created_console_user_signs_in(env: dict[str, str]) -> None:
    result = create(env, customer(env), "Ops@Acme.example", PASSWORD)
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert list(created) == ["console_user_id"] and created["console_user_id"].startswith("cu_")
    assert PASSWORD not in result.output

    app = create_app(load_settings(env))
    try:
        browser = app.test_client()
        page = browser.get("/console/sign-in").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token
        response = browser.post(
            "/console/sign-in",
            data={"email": "ops@acme.example", "password": PASSWORD, "csrf_token": token.group(1)},
        )
        assert response.status_code == 302 and response.headers["Location"] == "/console/"
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        ((), "short", "A password must be 12 to 1024 characters"),
        (("--email", "not-an-email"), PASSWORD, "is not an email address"),
        (("--customer", "cus_nope"), PASSWORD, "No customer cus_nope"),
    ],
)
def test_bad_input_is_a_clear_error(
    env: dict[str, str], args: tuple[str, ...], password: str, message: str
) -> None:
    options = {"--customer": customer(env), "--email": "ana@acme.example"}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [part for pair in options.items() for part in pair]
    result = run(env, "console-users", "create", *flat, "--password-stdin", input=password)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert password not in result.output


def test_an_email_has_one_account(env: dict[str, str]) -> None:
    customer_id = customer(env)
    assert create(env, customer_id, "ana@acme.example", PASSWORD).exit_code == 0
    again = create(env, customer_id, "ANA@acme.example", PASSWORD)
    assert again.exit_code == 1 and "already has a console account" in again.output


def test_the_password_must_come_on_stdin(env: dict[str, str]) -> None:
    result = run(env, "console-users", "create", "--customer", customer(env), "--email", "a@b.co")
    assert result.exit_code == 2 and "--password-stdin" in result.output
