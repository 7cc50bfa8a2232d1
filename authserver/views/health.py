"""Probes and metrics: ``/healthz`` (the process answers), ``/readyz`` (its stores and keys
work) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import text

from .. import metrics
from ..extensions import db
from ..outages import RETRY_AFTER, RedisDataLost
from ..services import services

bp = Blueprint("health", __name__)
log = logging.getLogger("chatframe.outages")


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int, dict[str, str]]:
    checks = {"database": _check("database", _database)}
    if services().redis is not None:
        checks["redis"] = _check("redis", _redis)
    checks["keys"] = _check("keys", lambda: services().keys.signing_key())
    if all(state == "ok" for state in checks.values()):
        return jsonify(status="ready", checks=checks), 200, {}
    down = ", ".join(name for name, state in checks.items() if state != "ok")
    body = jsonify(
        status="unavailable",
        checks=checks,
        error="temporarily_unavailable",
        error_description=f"Not ready: {down} unavailable.",
    )
    return body, 503, {"Retry-After": str(RETRY_AFTER)}


@bp.get("/metrics")
def metrics_endpoint() -> Response | tuple[Response, int, dict[str, str]]:
    token = services().settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            body = jsonify(
                error="invalid_token",
                error_description="Send the metrics token: Authorization: Bearer <token>.",
            )
            return body, 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}
    response = metrics.exposition()
    response.headers["Cache-Control"] = "no-store"
    return response


def _database() -> None:
    try:
        db.session.execute(text("SELECT 1"))
    finally:
        db.session.rollback()


def _redis() -> None:
    client = services().redis
    assert client is not None
    client.ping()


def _check(name: str, probe: Callable[[], object]) -> str:
    try:
        probe()
    except RedisDataLost as exc:
        return f"unavailable: lost its data, refused for {int(exc.until - time.time()) + 1} s more"
    except Exception as exc:  # any failure means "not ready"
        log.warning("readiness: %s unavailable (%s)", name, type(exc).__name__)
        return "unavailable"
    return "ok"
