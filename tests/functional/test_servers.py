"""`chatframe serve` behaves the same under both HTTP servers it offers (granian, gunicorn)."""

from __future__ import annotations

import http.client
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.embed import Backend
from tests.processes import clean_env, cli, seed, start, wait_until_up


@pytest.fixture(params=["granian", "gunicorn"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int, Backend]]:
    port = free_port()
    env = clean_env(
        CHATFRAME_ISSUER=f"http://127.0.0.1:{port}",
        CHATFRAME_SECRET_KEY=secrets.token_urlsafe(48),
    )
    cli(env, tmp_path, "db", "upgrade")
    ids = seed(env, tmp_path, "http://localhost:5001")
    args = ["serve", "--port", str(port), "--workers", "1", "--server", request.param]
    process = start(args, env, tmp_path)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/oauth/jwks", process)
        yield port, Backend(f"http://127.0.0.1:{port}", ids.client_id, ids.client_secret)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_both_servers_issue_tokens_and_close_a_connection_after_413(
    served: tuple[int, Backend],
) -> None:
    port, backend = served
    assert backend.client_credentials().status_code == 200

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.auto_open = False
    connection.connect()
    connection.request(
        "POST",
        "/oauth/token",
        body=b"grant_type=" + b"x" * 200_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["error"] == "request_too_large"
    assert response.getheader("Connection", "").lower() == "close" and response.will_close
    connection.close()
