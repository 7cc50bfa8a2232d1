"""Chatframe's authorization server: ``create_app`` builds the Flask app."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from redis import Redis
from sqlalchemy import event
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import edge, sqlite_writers
from .client_cache import ClientCache
from .config import Settings, load_settings
from .ephemeral import EphemeralStore, RedisEphemeralStore, SqlEphemeralStore
from .extensions import db, migrate, sqlite_deferred
from .keys import KeyStore
from .outages import postgres_engine_options, redis_client
from .security import Hasher
from .services import Services

MIGRATIONS = str(Path(__file__).parent / "migrations")
log = logging.getLogger("chatframe")


class ChatframeFlask(Flask):
    """Flask, minus a per-request cost: every view and hook here is a plain function.

    Flask asks ``inspect.iscoroutinefunction`` of every hook and view on every request to
    support async views; Chatframe has none, so the answer is remembered per function.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain_functions: set[Any] = set()

    def ensure_sync(self, func: Any) -> Any:
        if func in self._plain_functions:
            return func
        wrapped = super().ensure_sync(func)
        if wrapped is func:
            self._plain_functions.add(func)
        return wrapped


def create_app(settings: Settings | None = None, *, ensure_keys: bool = True) -> Flask:
    """Build the app from ``settings`` (default: the ``CHATFRAME_*`` environment)."""
    settings = settings or load_settings()
    app = ChatframeFlask(__name__, instance_path=str(Path("instance").resolve()))
    database_url = settings.database_url
    if not database_url:
        os.makedirs(app.instance_path, exist_ok=True)
        database_url = "sqlite:///" + os.path.join(app.instance_path, "chatframe.db")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(database_url),
        SESSION_COOKIE_SECURE=settings.production,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
    )
    edge.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _serialise_sqlite_writes(db.engine)
    redis = redis_client(settings) if settings.redis_url else None
    app.extensions["chatframe"] = Services(
        settings=settings,
        hasher=Hasher(settings.secret_key),
        store=_ephemeral_store(settings, redis),
        keys=KeyStore(settings.keys_dir, lambda: db.session(), settings.max_signed_token_ttl),
        clients=ClientCache(settings.client_cache_ttl),
        redis=redis,
    )

    import chatapp

    from . import api, console, metrics, outages
    from .oauth.server import authorization_server
    from .views import docs, health, oauth

    metrics.init_app(app)
    authorization_server.init_app(app)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(health.bp)
    api.init_app(app)
    console.init_app(app)
    chatapp.init_app(app)
    docs.init_app(app)
    _register_error_handlers(app)
    outages.init_app(app)
    _register_security_headers(app)
    _install_fast_lane(app, settings)

    if ensure_keys:
        with app.app_context():
            if _schema_ready():
                app.extensions["chatframe"].keys.ensure()
    return app


def _install_fast_lane(app: Flask, settings: Settings) -> None:
    """The fast lane in front of the app, behind the proxy fix (it reads the fixed address)."""
    import chatapp.api

    from .fastlane import FastLane
    from .views import oauth

    lane = FastLane(app, app.wsgi_app)
    oauth.add_lanes(lane)
    chatapp.api.add_lanes(lane)
    app.wsgi_app = lane  # type: ignore[method-assign]
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # No pre-ping: it costs a round trip per request. A connection that died with the
    # server fails its next statement (503), which invalidates the pool's connections.
    return {"pool_size": 10, "max_overflow": 20, "pool_recycle": 1800, **postgres_engine_options()}


def _serialise_sqlite_writes(engine: Any) -> None:
    """Make every SQLite transaction BEGIN IMMEDIATE (but pure reads: ``reads_only``).

    A deferred transaction that reads and then writes fails at once with "database is
    locked" when another writer got in between; taking the write lock up front makes
    concurrent requests queue on the busy timeout instead.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # Every commit on disk before the answer (SQLite's usual default, made explicit): a
        # spent code, a rotated refresh token or a remembered jti must survive a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    queue = None
    if engine.url.database and engine.url.database != ":memory:":
        queue = sqlite_writers.WriterQueue(engine.url.database, timeout=30)
        sqlite_writers.install(engine, queue)

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if sqlite_deferred.get():
            connection.exec_driver_sql("BEGIN")
            return
        if queue is not None:
            queue.acquire(connection.connection)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if queue is not None:
                queue.release(connection.connection)
            raise


def _ephemeral_store(settings: Settings, client: Redis | None) -> EphemeralStore:
    if client is not None:
        return RedisEphemeralStore(client, prefix=settings.redis_prefix)
    return SqlEphemeralStore()


def _schema_ready() -> bool:
    from sqlalchemy import inspect

    return inspect(db.engine).has_table("signing_keys")


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return edge.http_error(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        incident = uuid.uuid4().hex[:12]
        log.exception(
            "unhandled error on %s %s (incident %s)", request.method, request.path, incident
        )
        db.session.rollback()
        return edge.server_error(incident), 500


def _register_security_headers(app: Flask) -> None:
    app.after_request(edge.add_security_headers)
