"""What workers cache reaches them all within the documented bound; what they must not, at once.

`chatframe serve` with two workers on SQLite; the changes come from the `chatframe` CLI, another
process, so no worker hears of them except through the database. CHATFRAME_CLIENT_CACHE_TTL is
set to 2 s here (default 5 s): a rotated secret and a disabled client must be refused by every
worker within that bound, while a removed member and a revoked session are refused on the very
next request.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.embed import Backend, Iframe
from tests.processes import CHATFRAME, Seed, clean_env, cli, seed, start, wait_until_up

TTL = 2
ORIGIN = "http://localhost:5001"
# Each probe is sent this many times so that both workers (granian spreads connections) answer.
PROBES = 8


class Served:
    def __init__(self, url: str, env: dict[str, str], cwd: Path, ids: Seed) -> None:
        self.url, self.env, self.cwd, self.ids = url, env, cwd, ids

    def cli(self, *args: str) -> dict:
        return cli(self.env, self.cwd, *args)

    def backend(self, secret: str | None = None) -> Backend:
        return Backend(self.url, self.ids.client_id, secret or self.ids.client_secret)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    env = clean_env(
        CHATFRAME_ISSUER=f"http://127.0.0.1:{port}",
        CHATFRAME_SECRET_KEY=secrets.token_urlsafe(48),
        CHATFRAME_CLIENT_CACHE_TTL=str(TTL),
    )
    cli(env, tmp_path, "db", "upgrade")
    ids = seed(env, tmp_path, ORIGIN)
    process = start(["serve", "--port", str(port), "--workers", "2"], env, tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/oauth/jwks", process)
        yield Served(url, env, tmp_path, ids)
    finally:
        process.terminate()
        process.wait(timeout=30)


def statuses(send: Callable[[], requests.Response]) -> set[int]:
    """Status codes of PROBES fresh connections (each may land on either worker)."""
    return {send().status_code for _ in range(PROBES)}


def refused_within(bound: float, send: Callable[[], requests.Response], status: int) -> float:
    """Seconds until every probe answers ``status``; fails if that takes longer than ``bound``."""
    started = time.monotonic()
    while True:
        seen = statuses(send)
        elapsed = time.monotonic() - started
        if seen == {status}:
            return elapsed
        assert elapsed <= bound, f"still answered {sorted(seen)} after {elapsed:.1f} s"
        time.sleep(0.2)


def test_a_rotated_secret_and_a_disabled_client_reach_every_worker_within_the_ttl(
    served: Served,
) -> None:
    old = served.backend()
    assert statuses(old.client_credentials) == {200}  # both workers now cache the client

    rotated = served.cli("clients", "rotate-secret", served.ids.client_id, "--grace", "0", "--json")
    new = served.backend(rotated["client_secret"])
    # A few requests may still be served from a cache loaded before the rotation; never later.
    refused_within(TTL + 1.5, old.client_credentials, 401)
    assert statuses(new.client_credentials) == {200}

    served.cli("clients", "update", served.ids.client_id, "--disable")
    refused_within(TTL + 1.5, new.client_credentials, 401)
    served.cli("clients", "update", served.ids.client_id, "--enable")
    refused_within(TTL + 1.5, new.client_credentials, 200)


def test_a_removed_member_and_a_revoked_session_are_refused_on_the_very_next_request(
    served: Served,
) -> None:
    bot = served.cli(
        "bots", "create", "--customer", served.ids.customer_id, "--name", "Billing", "--json"
    )["bot_id"]
    served.cli("bots", "add-member", bot, "alice")
    backend = served.backend()
    iframe = Iframe(served.url, served.ids.client_id, ORIGIN)
    assert iframe.redeem(backend.code(iframe, "alice", [bot])).status_code == 200
    assert iframe.api("GET", f"/chat/api/bots/{bot}").status_code == 200  # verified and cached

    served.cli("bots", "remove-member", bot, "alice")
    for _ in range(PROBES):
        assert iframe.api("GET", f"/chat/api/bots/{bot}").status_code == 403

    welcome = served.ids.bot_id
    other = Iframe(served.url, served.ids.client_id, ORIGIN)
    assert other.redeem(backend.code(other, "alice", [welcome])).status_code == 200
    assert other.api("GET", f"/chat/api/bots/{welcome}").status_code == 200
    assert other.revoke().status_code == 200  # through the token endpoint, another request
    for _ in range(PROBES):
        assert other.api("GET", f"/chat/api/bots/{welcome}").status_code == 401


def test_the_cli_refuses_a_cache_ttl_outside_its_range(tmp_path: Path) -> None:
    env = clean_env(CHATFRAME_CLIENT_CACHE_TTL="600")
    result = subprocess.run(
        [CHATFRAME, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "CHATFRAME_CLIENT_CACHE_TTL must be between 0 and 60" in result.stderr
