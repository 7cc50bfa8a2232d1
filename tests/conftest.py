"""Shared fixtures: storage backends, a live Chatframe over real HTTP, tenants and actors."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from authserver import create_app
from authserver.config import Settings
from authserver.extensions import db
from tests.embed import Backend, Iframe

PG_ADMIN_URL = os.environ.get(
    "CHATFRAME_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CHATFRAME_TEST_REDIS", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = (
    os.environ.get("CHATFRAME_REQUIRE_SERVICES") == "1" or os.environ.get("CI") == "true"
)


def service_unavailable(what: str, error: Exception) -> None:
    """Skip locally; fail loudly in CI, where every backend must run."""
    message = f"{what} is not reachable ({error.__class__.__name__}: {error})"
    if REQUIRE_SERVICES:
        pytest.fail(message + " — CI requires it (CHATFRAME_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Storage:
    name: str
    database_url: str
    redis_url: str | None = None
    redis_prefix: str = "chatframe"


@pytest.fixture(scope="session")
def sqlite_storage(tmp_path_factory: pytest.TempPathFactory) -> Storage:
    path = tmp_path_factory.mktemp("sqlite") / "chatframe.db"
    return Storage("sqlite", f"sqlite:///{path}")


@pytest.fixture(scope="session")
def postgres_storage() -> Iterator[Storage]:
    import redis
    from sqlalchemy import create_engine, text

    name = f"chatframe_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        service_unavailable("PostgreSQL", exc)
    prefix = f"chatframe-test-{secrets.token_hex(6)}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:
        service_unavailable("Redis", exc)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield Storage("postgres", url, REDIS_URL, prefix)
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class LiveServer:
    """Chatframe served over real HTTP on 127.0.0.1 from a background thread."""

    def __init__(self, app: Flask, port: int) -> None:
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._base_settings: Settings = app.extensions["chatframe"].settings

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    @property
    def settings(self) -> Settings:
        return self.app.extensions["chatframe"].settings  # type: ignore[no-any-return]

    def configure(self, **changes: Any) -> None:
        """Change settings of the running server (tests restore them with ``reset``)."""
        self.app.extensions["chatframe"].settings = self.settings.replace(**changes)

    def reset(self) -> None:
        self.app.extensions["chatframe"].settings = self._base_settings


def build_app(storage: Storage, keys_dir: Path, port: int) -> Flask:
    from flask_migrate import upgrade

    settings = Settings(
        issuer=f"http://127.0.0.1:{port}",
        database_url=storage.database_url,
        redis_url=storage.redis_url,
        redis_prefix=storage.redis_prefix,
        keys_dir=keys_dir,
        secret_key=secrets.token_urlsafe(48),
    )
    app = create_app(settings, ensure_keys=False)
    with app.app_context():
        upgrade()
        app.extensions["chatframe"].keys.ensure()
    return app


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    storage: Storage = request.getfixturevalue(f"{request.param}_storage")
    port = free_port()
    app = build_app(storage, tmp_path_factory.mktemp(f"keys-{request.param}"), port)
    server = LiveServer(app, port).start()
    yield server
    server.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def server(live_server: LiveServer) -> Iterator[LiveServer]:
    """The live server, with any ``configure`` changes undone after the test."""
    yield live_server
    live_server.reset()


ORIGIN = "http://localhost:5001"
OTHER_ORIGIN = "http://localhost:5002"


@dataclass
class Tenant:
    """A customer with one client, bots and members, plus its backend and iframe helpers."""

    server: LiveServer
    customer_id: str
    client_id: str
    client_secret: str
    bots: dict[str, str] = field(default_factory=dict)

    @property
    def backend(self) -> Backend:
        return Backend(self.server.url, self.client_id, self.client_secret)

    def iframe(self, origin: str = ORIGIN) -> Iframe:
        return Iframe(self.server.url, self.client_id, origin)

    def events(self, type: str | None = None) -> list[dict[str, Any]]:
        """This customer's security events, oldest first."""
        from sqlalchemy import select

        from authserver.models import SecurityEvent

        with self.server.app.app_context():
            query = select(SecurityEvent).where(SecurityEvent.customer_id == self.customer_id)
            if type:
                query = query.where(SecurityEvent.type == type)
            rows = [
                e.as_dict()
                for e in db.session.execute(query.order_by(SecurityEvent.created_at)).scalars()
            ]
            db.session.remove()
        return rows

    def session(self, user: str, bots: list[str]) -> Iframe:
        """Run exchange + redemption; return the iframe holding live tokens."""
        iframe = self.iframe()
        response = iframe.redeem(self.backend.code(iframe, user, bots))
        assert response.status_code == 200, response.text
        return iframe


def make_tenant(server: LiveServer, *, ips: tuple[str, ...] = ()) -> Tenant:
    from authserver import registry

    with server.app.app_context():
        customer = registry.create_customer(f"Customer {secrets.token_hex(3)}")
        client, secret = registry.create_client(customer, "web", [ORIGIN, OTHER_ORIGIN], ips)
        billing = registry.create_bot(customer, "Billing helper")
        support = registry.create_bot(customer, "Tech support")
        welcome = registry.create_bot(customer, "Welcome", access="all_users")
        registry.add_member(billing, "alice")
        registry.add_member(support, "bob")
        tenant = Tenant(
            server,
            customer.id,
            client.id,
            secret,
            {"billing": billing.id, "support": support.id, "welcome": welcome.id},
        )
        db.session.remove()
    return tenant


@pytest.fixture
def tenant(server: LiveServer) -> Tenant:
    return make_tenant(server)


@pytest.fixture
def other_tenant(server: LiveServer) -> Tenant:
    return make_tenant(server)


def assert_refused(response: Any, status: int, error: str) -> dict[str, Any]:
    """The response is the given OAuth error, with a human description and no token in it."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    assert body.get("error_description"), body
    assert not {"access_token", "refresh_token", "id_token"} & body.keys(), body
    assert response.headers.get("Cache-Control") == "no-store"
    return body  # type: ignore[no-any-return]


@pytest.fixture
def captured_logs() -> Iterator[list[str]]:
    """Every log line emitted anywhere during the test, at DEBUG and above."""
    lines: list[str] = []

    class Collector(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collector(level=logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)
