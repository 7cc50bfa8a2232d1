"""The ``chatframe`` CLI as an operator uses it: JSON output, clear errors, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from click.testing import Result

from tests.conftest import free_port
from tests.functional.conftest import run
from tests.processes import clean_env, start, wait_until_up


def as_json(result: Result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_the_full_cli_setup_of_a_customer(env: dict[str, str]) -> None:
    customer = as_json(run(env, "customers", "create", "--name", "Acme", "--json"))["customer_id"]
    assert customer.startswith("cus_")
    client = as_json(
        run(
            env,
            "clients",
            "create",
            "--customer",
            customer,
            "--name",
            "web",
            "--origin",
            "https://app.acme.example",
            "--origin",
            "http://localhost:5001",
            "--ip",
            "203.0.113.0/24",
            "--json",
        )
    )
    assert client["client_id"].startswith("cf_") and client["client_secret"].startswith("cfs_")
    rotated = as_json(
        run(env, "clients", "rotate-secret", client["client_id"], "--grace", "60", "--json")
    )
    assert rotated["client_secret"] != client["client_secret"]
    bot = as_json(
        run(env, "bots", "create", "--customer", customer, "--name", "Billing helper", "--json")
    )
    bot_id = bot["bot_id"]
    assert bot_id.startswith("bot_")
    updated = run(
        env, "bots", "update", bot_id, "--greeting", "Hello!", "--require-mfa", "--disable"
    )
    assert (
        updated.exit_code == 0 and "MFA required" in updated.output and "disabled" in updated.output
    )
    assert (
        run(
            env, "bots", "faq-add", bot_id, "--question", "How do I pay?", "--answer", "By card."
        ).exit_code
        == 0
    )
    faq = as_json(run(env, "bots", "faq-list", bot_id, "--json"))
    assert faq == {"faq": [{"question": "How do I pay?", "answer": "By card."}]}
    assert "is now a member" in run(env, "bots", "add-member", bot_id, "alice").output
    assert "already a member" in run(env, "bots", "add-member", bot_id, "alice").output
    assert "no longer a member" in run(env, "bots", "remove-member", bot_id, "alice").output
    keys = as_json(run(env, "keys", "list", "--json"))["keys"]
    assert sorted(k["state"] for k in keys) == ["active", "next"]
    rotated_keys = as_json(run(env, "keys", "rotate", "--json"))
    assert set(rotated_keys) == {"active", "next", "retired"}


def test_secret_is_printed_once_in_human_output(env: dict[str, str]) -> None:
    customer = as_json(run(env, "customers", "create", "--name", "Acme", "--json"))["customer_id"]
    result = run(
        env,
        "clients",
        "create",
        "--customer",
        customer,
        "--name",
        "web",
        "--origin",
        "https://app.acme.example",
    )
    assert result.output.count("cfs_") == 1 and "will not be shown again" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "clients",
                "create",
                "--customer",
                "cus_missing",
                "--name",
                "w",
                "--origin",
                "https://a.example",
            ],
            "No customer cus_missing",
        ),
        (["bots", "update", "bot_missing", "--name", "x"], "No bot bot_missing"),
        (["clients", "rotate-secret", "cf_missing"], "No client cf_missing"),
    ],
)
def test_unknown_ids_give_a_clear_error(env: dict[str, str], args: list[str], message: str) -> None:
    result = run(env, *args)
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output


def test_bad_origin_and_cidr_are_explained(env: dict[str, str]) -> None:
    customer = as_json(run(env, "customers", "create", "--name", "Acme", "--json"))["customer_id"]
    bad_origin = run(
        env,
        "clients",
        "create",
        "--customer",
        customer,
        "--name",
        "w",
        "--origin",
        "https://app.example.com/path",
    )
    assert bad_origin.exit_code == 1 and "not an origin" in bad_origin.output
    bad_ip = run(
        env,
        "clients",
        "create",
        "--customer",
        customer,
        "--name",
        "w",
        "--origin",
        "https://app.example.com",
        "--ip",
        "10.0.0.0/33",
    )
    assert bad_ip.exit_code == 1 and "CIDR" in bad_ip.output


def test_commands_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    env = {
        "CHATFRAME_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db",
        "CHATFRAME_KEYS_DIR": str(tmp_path / "keys"),
    }
    result = run(env, "customers", "create", "--name", "Acme")
    assert result.exit_code == 1 and "chatframe db upgrade" in result.output


def test_bad_configuration_stops_with_a_clear_message(tmp_path: Path) -> None:
    result = run(
        {"CHATFRAME_CODE_TTL": "soon", "CHATFRAME_KEYS_DIR": str(tmp_path)}, "db", "upgrade"
    )
    assert result.exit_code == 1 and "CHATFRAME_CODE_TTL must be a whole number" in result.output


def test_serve_from_a_fresh_install_answers_discovery(tmp_path: Path) -> None:
    """`chatframe serve` in an empty folder, with no CHATFRAME_* configuration at all."""
    port = free_port()
    process = start(["serve", "--port", str(port), "--workers", "2"], clean_env(), tmp_path)
    try:
        url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
        document = wait_until_up(url, process).json()
        assert document["issuer"] == "http://localhost:8000"
        assert (tmp_path / "instance" / "chatframe.db").exists()
        assert list((tmp_path / "keys").glob("*.pem"))
        docs = requests.get(f"http://127.0.0.1:{port}/docs/getting-started", timeout=10)
        assert docs.status_code == 200 and "Getting started" in docs.text
    finally:
        process.terminate()
        process.wait(timeout=30)
