"""Outages: a PostgreSQL or Redis that is down, restarted or frozen costs a caller at most a
second, answers 503 ``temporarily_unavailable`` with ``Retry-After``, lets nothing through, and
Chatframe recovers by itself.

The fault tests own their Redis and PostgreSQL (tests/owned_services.py) and run real traffic
through every grant while they break them: no code, refresh token or DPoP proof may ever be
accepted twice.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from authserver import create_app
from authserver.config import Settings
from authserver.extensions import db
from tests.conftest import LiveServer, Tenant, free_port, make_tenant
from tests.functional.conftest import ConsoleBrowser
from tests.owned_services import OwnedPostgres, OwnedRedis

OUTAGE_BUDGET = 1.0  # seconds: the longest a caller may wait for its 503
RECOVERY_BUDGET = 5.0  # seconds from the store's return to a complete embed flow working


def serve(
    database_url: str, keys_dir: Path, redis_url: str | None = None, **settings: object
) -> LiveServer:
    """A migrated Chatframe on a live port with these stores (no rate limit in the way)."""
    from flask_migrate import upgrade

    port = free_port()
    values: dict[str, object] = {
        "issuer": f"http://127.0.0.1:{port}",
        "database_url": database_url,
        "redis_url": redis_url,
        "redis_prefix": f"chatframe-outage-{secrets.token_hex(4)}",
        "keys_dir": keys_dir,
        "secret_key": secrets.token_urlsafe(48),
        "exchange_limit_per_user": 1_000_000,
        "exchange_limit_per_client": 1_000_000,
    }
    values.update(settings)
    app = create_app(Settings(**values), ensure_keys=False)  # type: ignore[arg-type]
    with app.app_context():
        upgrade()
        app.extensions["chatframe"].keys.ensure()
        db.session.remove()
    return LiveServer(app, port).start()


def shut(server: LiveServer) -> None:
    server.stop()
    with server.app.app_context():
        db.session.remove()
        db.engine.dispose()


def assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.json()["error_description"]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["Cache-Control"] == "no-store"


# -- stores that cannot be reached at all --------------------------------------------------


def test_unreachable_redis_answers_503_fast_on_every_surface(tmp_path: Path) -> None:
    server = serve(
        f"sqlite:///{tmp_path}/db.sqlite", tmp_path / "keys", f"redis://127.0.0.1:{free_port()}/0"
    )
    try:
        tenant = make_tenant(server)
        iframe = tenant.iframe()
        started = time.monotonic()
        exchange = tenant.backend.exchange(iframe, "alice", [tenant.bots["billing"]])
        assert time.monotonic() - started < OUTAGE_BUDGET
        assert_unavailable(exchange)
        assert "access_token" not in exchange.json()

        ready = requests.get(f"{server.url}/readyz", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"].startswith("unavailable")
        assert ready.json()["checks"]["database"] == "ok"
        assert requests.get(f"{server.url}/healthz", timeout=5).json() == {"status": "ok"}

        browser = ConsoleBrowser(server)
        page = browser.post("/console/sign-in", {"email": "a@b.example", "password": "x" * 12})
        assert page.status_code == 503
        assert page.headers["Content-Type"].startswith("text/html")
        assert "Temporarily unavailable" in page.text
        assert page.headers["Retry-After"]
    finally:
        shut(server)


def test_unreachable_database_answers_503_not_500(tmp_path: Path) -> None:
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/chatframe"
    server = LiveServer(
        create_app(
            Settings(
                issuer="http://127.0.0.1:1",
                database_url=dead,
                keys_dir=tmp_path / "keys",
                secret_key=secrets.token_urlsafe(48),
            ),
            ensure_keys=False,
        ),
        free_port(),
    ).start()
    try:
        started = time.monotonic()
        response = requests.post(
            f"{server.url}/oauth/token",
            data={"grant_type": "client_credentials", "scope": "manage"},
            auth=("cf_" + "a" * 20, "secret"),
            timeout=10,
        )
        assert time.monotonic() - started < OUTAGE_BUDGET
        assert_unavailable(response)
        ready = requests.get(f"{server.url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "unavailable"
        assert dead not in ready.text
    finally:
        shut(server)


# -- fault injection under load ------------------------------------------------------------


@dataclass
class Outcome:
    step: str
    started: float
    elapsed: float
    status: int
    error: str | None
    retry_after: str | None


@dataclass
class Load:
    """Threads running the whole embed flow, replaying every credential once it is used."""

    tenant: Tenant
    threads: int = 3
    outcomes: list[Outcome] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.flow()

    def _call(self, step: str, send: Callable[[], requests.Response]) -> requests.Response:
        started = time.monotonic()
        response = send()
        elapsed = time.monotonic() - started
        try:
            error = response.json().get("error")
        except ValueError:
            error = "not-json"
        with self._lock:
            self.outcomes.append(
                Outcome(
                    step,
                    started,
                    elapsed,
                    response.status_code,
                    error,
                    response.headers.get("Retry-After"),
                )
            )
        return response

    def _accept(self, kind: str, value: str) -> None:
        with self._lock:
            self.accepted[f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"] += 1

    def flow(self) -> bool:
        """One user's embed flow with every replay an attacker would try; True if it all worked."""
        tenant, bot = self.tenant, self.tenant.bots["billing"]
        iframe = tenant.iframe()
        exchange = self._call("exchange", lambda: tenant.backend.exchange(iframe, "alice", [bot]))
        if exchange.status_code != 200:
            return False
        code = exchange.json()["access_token"]
        redeemed = self._call("redeem", lambda: iframe.redeem(code))
        if redeemed.status_code != 200:
            return False
        self._accept("code", code)
        path = f"/chat/api/bots/{bot}"
        proof = iframe.proof(
            "GET", tenant.server.url + path, access_token=iframe.tokens["access_token"]
        )
        chat = self._call("chat", lambda: iframe.api("GET", path, proof=proof))
        replay = self._call("chat_replay", lambda: iframe.api("GET", path, proof=proof))
        for response in (chat, replay):
            if response.status_code == 200:
                self._accept("proof", proof)
        old = iframe.tokens["refresh_token"]
        refreshed = self._call("refresh", lambda: iframe.refresh())
        reused = self._call("refresh_reuse", lambda: iframe.refresh(old))
        for response in (refreshed, reused):
            if response.status_code == 200:
                self._accept("refresh", old)
        code_replay = self._call("redeem_replay", lambda: iframe.redeem(code))
        if code_replay.status_code == 200:
            self._accept("code", code)
        return chat.status_code == 200 and refreshed.status_code == 200


# What each step may answer besides 200 and a 503; anything else (a 500 above all) is a bug.
REFUSALS = {
    "chat_replay": {(401, "invalid_dpop_proof")},
    "refresh_reuse": {(400, "invalid_grant")},
    "redeem_replay": {(400, "invalid_grant")},
}


def run_outage(
    tenant: Tenant,
    dependency: str,
    break_it: Callable[[], None],
    restore: Callable[[], None],
    seconds: float = 2.0,
) -> None:
    """Break a store under load, restore it, and check every promise of an outage."""
    load = Load(tenant).start()
    time.sleep(0.5)
    broken_at = time.monotonic()
    break_it()
    time.sleep(seconds / 2)
    ready = requests.get(f"{tenant.server.url}/readyz", timeout=5)
    time.sleep(seconds / 2)
    restore()
    restored_at = time.monotonic()
    probe = Load(tenant)
    while True:
        # Recovered as of the moment a flow that then worked from start to end began.
        began = time.monotonic()
        if probe.flow():
            break
        assert time.monotonic() - restored_at < RECOVERY_BUDGET, probe.outcomes[-3:]
        time.sleep(0.05)
    recovered_after = began - restored_at
    time.sleep(0.5)
    load.stop()

    assert ready.status_code == 503, ready.text
    assert ready.json()["checks"][dependency] != "ok"
    assert recovered_after < RECOVERY_BUDGET

    outcomes = load.outcomes + probe.outcomes
    assert len(outcomes) > 20, "the load did not run"
    unexpected = [
        o
        for o in outcomes
        if o.status not in (200, 503) and (o.status, o.error) not in REFUSALS.get(o.step, set())
    ]
    assert not unexpected, unexpected[:5]
    unavailable = [o for o in outcomes if o.status == 503]
    during = [o for o in unavailable if broken_at <= o.started <= restored_at]
    assert during, "no request saw the outage"
    assert all(o.error == "temporarily_unavailable" and o.retry_after for o in unavailable)
    slow = [o for o in unavailable if o.elapsed > OUTAGE_BUDGET]
    assert not slow, slow[:5]
    late = [o for o in unavailable if o.started > restored_at + RECOVERY_BUDGET]
    assert not late, late[:5]
    twice = {kind: n for kind, n in load.accepted.items() if n > 1}
    assert not twice, f"accepted more than once: {twice}"
    assert any(o.step == "chat" and o.status == 200 for o in outcomes)


@pytest.fixture(scope="module")
def owned_postgres() -> Iterator[OwnedPostgres]:
    postgres = OwnedPostgres().init()
    yield postgres
    postgres.destroy()


@pytest.fixture(scope="module")
def owned_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnedRedis]:
    redis_server = OwnedRedis(tmp_path_factory.mktemp("owned-redis"), aof=True).start()
    yield redis_server
    redis_server.stop()


@pytest.fixture(scope="module")
def deployment(
    owned_postgres: OwnedPostgres,
    owned_redis: OwnedRedis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Tenant]:
    server = serve(owned_postgres.url, tmp_path_factory.mktemp("keys"), owned_redis.url)
    yield make_tenant(server)
    shut(server)


def test_redis_killed_and_restarted_under_load(deployment: Tenant, owned_redis: OwnedRedis) -> None:
    run_outage(deployment, "redis", owned_redis.kill, owned_redis.start)


def test_redis_frozen_under_load(deployment: Tenant, owned_redis: OwnedRedis) -> None:
    run_outage(deployment, "redis", owned_redis.freeze, owned_redis.thaw)


def test_postgres_restarted_under_load(deployment: Tenant, owned_postgres: OwnedPostgres) -> None:
    run_outage(
        deployment, "database", lambda: owned_postgres.stop("immediate"), owned_postgres.start
    )
