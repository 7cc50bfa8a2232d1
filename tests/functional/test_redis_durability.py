"""Replay protection survives a restart of Redis (issue 8, item 4).

With AOF (the shipped topology) a crash forgets nothing. Without it Redis comes back empty;
Chatframe notices and refuses Redis until every proof, assertion and code issued before the
loss has expired, so nothing that was used can be used again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import LiveServer, Tenant, assert_refused, make_tenant
from tests.embed import Iframe
from tests.functional.test_outages import assert_unavailable, serve, shut
from tests.owned_services import OwnedRedis


def chat_path(tenant: Tenant) -> str:
    return f"/chat/api/bots/{tenant.bots['billing']}"


def used_credentials(tenant: Tenant) -> tuple[Iframe, str, str]:
    """A live session whose code and one DPoP proof have each been used once."""
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [tenant.bots["billing"]])
    assert iframe.redeem(code).status_code == 200
    proof = iframe.proof(
        "GET", tenant.server.url + chat_path(tenant), access_token=iframe.tokens["access_token"]
    )
    assert iframe.api("GET", chat_path(tenant), proof=proof).status_code == 200
    return iframe, code, proof


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[OwnedRedis]:
    server = OwnedRedis(tmp_path / "redis", aof=True)
    server.folder.mkdir()
    yield server.start()
    server.stop()


@pytest.fixture
def plain_redis(tmp_path: Path) -> Iterator[OwnedRedis]:
    server = OwnedRedis(tmp_path / "redis", aof=False)
    server.folder.mkdir()
    yield server.start()
    server.stop()


def chatframe_on(redis_server: OwnedRedis, tmp_path: Path, **settings: object) -> LiveServer:
    return serve(f"sqlite:///{tmp_path}/db.sqlite", tmp_path / "keys", redis_server.url, **settings)


def test_with_aof_a_crash_forgets_no_proof_code_or_rate_count(
    aof_redis: OwnedRedis, tmp_path: Path
) -> None:
    server = chatframe_on(aof_redis, tmp_path, exchange_limit_per_user=3, rate_limit_window=3600)
    try:
        tenant = make_tenant(server)
        iframe, code, proof = used_credentials(tenant)
        for _ in range(2):
            tenant.backend.code(tenant.iframe(), "alice", [tenant.bots["billing"]])

        aof_redis.kill()
        aof_redis.start()

        replay = iframe.api("GET", chat_path(tenant), proof=proof)
        assert_refused(replay, 401, "invalid_dpop_proof")
        assert_refused(tenant.iframe().redeem(code), 400, "invalid_grant")
        # ...and the reused pre-crash code revoked the session it had started.
        assert_refused(iframe.api("GET", chat_path(tenant)), 401, "invalid_token")
        limited = tenant.backend.exchange(tenant.iframe(), "alice", [tenant.bots["billing"]])
        assert_refused(limited, 429, "rate_limited")
    finally:
        shut(server)


def test_redis_back_without_its_data_is_refused_not_trusted(
    plain_redis: OwnedRedis, tmp_path: Path
) -> None:
    server = chatframe_on(plain_redis, tmp_path)
    try:
        tenant = make_tenant(server)
        iframe, code, proof = used_credentials(tenant)

        plain_redis.kill()
        plain_redis.start()  # empty: no AOF

        assert_unavailable(iframe.api("GET", chat_path(tenant), proof=proof))
        assert_unavailable(tenant.iframe().redeem(code))
        assert_unavailable(
            tenant.backend.exchange(tenant.iframe(), "alice", [tenant.bots["billing"]])
        )
        ready = requests.get(f"{server.url}/readyz", timeout=5)
        assert ready.status_code == 503
        assert "lost its data" in ready.json()["checks"]["redis"]
        # The quarantine lasts the longest replay window (6 minutes with the defaults).
        assert int(ready.headers["Retry-After"]) >= 1
        still = iframe.api("GET", chat_path(tenant), proof=proof)
        assert_unavailable(still)
        assert int(still.headers["Retry-After"]) > 300

        # An operator who accepts the loss ends the quarantine by hand (docs/operations.md).
        redis.Redis.from_url(plain_redis.url).set(f"{server.settings.redis_prefix}:epoch", "ok")
        used_credentials(tenant)
    finally:
        shut(server)


def test_the_quarantine_ends_by_itself(plain_redis: OwnedRedis, tmp_path: Path) -> None:
    server = chatframe_on(plain_redis, tmp_path, redis_loss_quarantine=2)
    try:
        tenant = make_tenant(server)
        used_credentials(tenant)
        plain_redis.kill()
        plain_redis.start()
        bot = tenant.bots["billing"]
        assert_unavailable(tenant.backend.exchange(tenant.iframe(), "alice", [bot]))
        deadline = time.monotonic() + 10
        while (
            tenant.backend.exchange(tenant.iframe(), "alice", [bot]).status_code != 200
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        used_credentials(tenant)
        assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200
    finally:
        shut(server)
