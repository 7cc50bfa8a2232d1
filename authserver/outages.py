"""Store outages: bounded timeouts, one exception for them, and the 503 every caller gets.

A PostgreSQL or Redis that is down, frozen or lost its data must cost a caller at most about a
second and never let anything through: each such failure becomes :class:`StoreUnavailable`,
answered ``503 temporarily_unavailable`` with ``Retry-After`` (an HTML page on the console).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

import redis
import sqlalchemy.exc
from flask import Flask, Response, jsonify, render_template, request
from redis.backoff import NoBackoff
from redis.retry import Retry

from .config import Settings

log = logging.getLogger("chatframe.outages")

# Redis answers in well under a millisecond; a quarter second means it is gone or frozen.
# A refused or reset connection is retried once at once (a pooled connection may predate a
# restart); a timeout is not, so a frozen Redis costs one timeout, not several.
REDIS_TIMEOUT = 0.25
REDIS_RETRIES = 1
# libpq's connect_timeout is whole seconds with a minimum of 2; a refused or reset connection
# fails at once. A statement that runs this long is a stuck database, not a slow query.
PG_CONNECT_TIMEOUT = 2
PG_STATEMENT_TIMEOUT_MS = 5000
PG_POOL_TIMEOUT = 1
RETRY_AFTER = 2  # seconds a caller should wait before trying again after an outage


class StoreUnavailable(Exception):
    """The database or the ephemeral store cannot be used right now; nothing was granted."""

    def __init__(self, store: str, retry_after: int = RETRY_AFTER) -> None:
        super().__init__(f"{store} is unavailable")
        self.store = store
        self.retry_after = retry_after


class RedisDataLost(redis.exceptions.ConnectionError):
    """Redis came back without our data: refuse until every replay window has passed."""

    def __init__(self, until: float) -> None:
        super().__init__("Redis lost Chatframe's data; refusing until the replay window passes")
        self.until = until


def quarantine_seconds(settings: Settings) -> int:
    """How long a Redis that lost its data is refused: the longest replay window we keep."""
    if settings.redis_loss_quarantine is not None:
        return settings.redis_loss_quarantine
    from .console.mfa import DRIFT_STEPS, STEP
    from .oauth.client_auth import CLOCK_LEEWAY, MAX_LIFETIME

    return max(
        settings.code_ttl,
        2 * settings.dpop_leeway + 5,  # DPoP jti
        MAX_LIFETIME + 2 * CLOCK_LEEWAY,  # client assertion and subject token jti
        STEP * (2 * DRIFT_STEPS + 2),  # console one-time passwords
        settings.rate_limit_window,
    )


class RedisEpoch:
    """Detects a Redis that restarted empty, on every new connection (never per command).

    The first process to see an empty Redis writes an epoch key. A process that has seen an
    epoch and later connects to a Redis without one knows the data was lost (no AOF, or a
    wiped volume): it writes a quarantine epoch, and every process refuses new connections
    until it ends — so no code, ``jti`` or rate-limit counter that was lost can be replayed.
    """

    def __init__(self, prefix: str, quarantine: int) -> None:
        self.key = f"{prefix}:epoch"
        self.quarantine = quarantine
        self._seen: str | None = None

    def on_connect(self, connection: redis.connection.AbstractConnection) -> None:
        connection.on_connect()
        # No lock: SET NX settles races between threads and processes alike, and a lock held
        # across network calls would queue every thread behind a frozen Redis.
        epoch = self._read(connection)
        if epoch is None:
            lost = self._seen is not None and self.quarantine > 0
            until = time.time() + self.quarantine if lost else 0.0
            value = json.dumps({"id": secrets.token_hex(8), "until": until})
            connection.send_command("SET", self.key, value, "NX")
            connection.read_response()
            epoch = self._read(connection) or {}
            if lost:
                log.error(
                    "Redis came back without Chatframe's data (epoch key missing): refusing "
                    "requests that need it until the replay window passes (%s s). Run Redis "
                    "with appendonly yes to avoid this.",
                    self.quarantine,
                )
        self._seen = str(epoch.get("id"))
        until = float(epoch.get("until") or 0)
        if until > time.time():
            raise RedisDataLost(until)

    def _read(self, connection: redis.connection.AbstractConnection) -> dict[str, Any] | None:
        connection.send_command("GET", self.key)
        raw = connection.read_response()
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        # Anything else an operator wrote there (e.g. to end a quarantine early) counts as ok.
        return value if isinstance(value, dict) else {"id": "operator", "until": 0}


def redis_client(settings: Settings) -> redis.Redis:
    """A Redis client with short timeouts, one quick retry and the data-loss check."""
    assert settings.redis_url
    epoch = RedisEpoch(settings.redis_prefix, quarantine_seconds(settings))
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT,
        socket_timeout=REDIS_TIMEOUT,
        retry=Retry(
            NoBackoff(), REDIS_RETRIES, supported_errors=(redis.exceptions.ConnectionError,)
        ),
        redis_connect_func=epoch.on_connect,
    )


def postgres_engine_options() -> dict[str, Any]:
    """Connect and statement timeouts, and a short wait for a pooled connection."""
    return {
        "pool_timeout": PG_POOL_TIMEOUT,
        "connect_args": {
            "connect_timeout": PG_CONNECT_TIMEOUT,
            "options": f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS}",
        },
    }


def as_outage(exc: BaseException) -> StoreUnavailable | None:
    """The :class:`StoreUnavailable` a driver error means, or None if it is not an outage."""
    if isinstance(exc, StoreUnavailable):
        return exc
    if isinstance(exc, RedisDataLost):
        return StoreUnavailable("redis", max(1, int(exc.until - time.time()) + 1))
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return StoreUnavailable("redis")  # includes BusyLoadingError: Redis replaying its AOF
    if isinstance(
        exc,
        sqlalchemy.exc.OperationalError
        | sqlalchemy.exc.InterfaceError
        | sqlalchemy.exc.TimeoutError
        | sqlalchemy.exc.PendingRollbackError,
    ):
        return StoreUnavailable("database")
    return None


def unavailable_response(outage: StoreUnavailable) -> tuple[Response | str, int, dict[str, str]]:
    """503 with ``Retry-After``: JSON everywhere, a page a person can read on the console."""
    from . import metrics

    if request.blueprint == "console":
        metrics.STORE_ERRORS.labels(outage.store).inc()
        page = render_template("console/unavailable.html", retry_after=outage.retry_after)
        return page, 503, _headers(outage)
    return unavailable_json(outage), 503, {}


def unavailable_json(outage: StoreUnavailable) -> Response:
    """The 503 every API caller gets (counted in the store-error metric)."""
    from . import metrics

    metrics.STORE_ERRORS.labels(outage.store).inc()
    response = jsonify(
        error="temporarily_unavailable",
        error_description=(
            "Chatframe cannot reach its storage right now, so nothing was issued. Try again "
            f"in {outage.retry_after} seconds (a code redemption with a new code)."
        ),
    )
    response.status_code = 503
    response.headers.update(_headers(outage))
    return response


def _headers(outage: StoreUnavailable) -> dict[str, str]:
    return {"Retry-After": str(outage.retry_after), "Cache-Control": "no-store"}


def log_outage(exc: BaseException, outage: StoreUnavailable, method: str, path: str) -> None:
    """One line, no traceback and no driver message (it may name hosts or users)."""
    log.warning("%s unavailable on %s %s: %s", outage.store, method, path, type(exc).__name__)


def init_app(app: Flask) -> None:
    """Answer every store outage with 503, whatever code path hit it."""

    def _outage(exc: Exception) -> tuple[Response | str, int, dict[str, str]]:
        outage = as_outage(exc)
        assert outage is not None
        log_outage(exc, outage, request.method, request.path)
        _rollback_quietly()
        return unavailable_response(outage)

    for exc_class in (
        StoreUnavailable,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        sqlalchemy.exc.TimeoutError,
        sqlalchemy.exc.PendingRollbackError,
    ):
        app.register_error_handler(exc_class, _outage)


def _rollback_quietly() -> None:
    from .extensions import db

    try:
        db.session.rollback()
    except Exception:  # the connection is already gone: nothing to undo
        log.debug("rollback after an outage failed", exc_info=False)
