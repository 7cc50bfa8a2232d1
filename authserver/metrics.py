"""Prometheus metrics: requests and latency per endpoint, grants by outcome, store outages.

Labels come from small fixed sets (the endpoint's rule, never the raw path; known methods,
grant types and error codes) so no caller can grow them. Under ``chatframe serve`` every
gunicorn worker writes to ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` sums them all.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

REQUESTS = Counter(
    "chatframe_http_requests",
    "HTTP requests answered, by endpoint rule, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "chatframe_http_request_duration_seconds",
    "Time to answer a request, by endpoint rule.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
GRANTS = Counter(
    "chatframe_grants",
    "Token endpoint answers: outcome is 'issued' or the OAuth error code of the refusal.",
    ["grant_type", "outcome"],
)
STORE_ERRORS = Counter(
    "chatframe_store_errors",
    "Requests answered 503 because a store (database or redis) was unavailable.",
    ["store"],
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_GRANT_TYPES = {
    "urn:ietf:params:oauth:grant-type:token-exchange": "token_exchange",
    "authorization_code": "authorization_code",
    "refresh_token": "refresh_token",
    "client_credentials": "client_credentials",
}
_OUTCOMES = frozenset(
    {
        "invalid_client",
        "invalid_request",
        "invalid_target",
        "invalid_grant",
        "invalid_scope",
        "invalid_dpop_proof",
        "unauthorized_client",
        "unsupported_grant_type",
        "rate_limited",
        "temporarily_unavailable",
        "server_error",
    }
)
_START = "chatframe.metrics.start"


def init_app(app: Flask) -> None:
    """Time and count every request."""

    @app.before_request
    def _start() -> None:
        request.environ[_START] = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        count_request(rule, request.method, response.status_code, request.environ.get(_START))
        return response


def count_request(rule: str, method: str, status: int, started: float | None) -> None:
    """Count one answered request under its endpoint rule; time it from ``started``."""
    _requests(rule, method if method in _METHODS else "other", status).inc()
    if started is not None:
        _latency(rule).observe(time.perf_counter() - started)


# The labelled children, looked up once per label set rather than on every request. The
# label sets are bounded (rules, known methods, status codes), so are these caches.
@functools.lru_cache(maxsize=4096)
def _requests(rule: str, method: str, status: int) -> Any:
    return REQUESTS.labels(rule, method, str(status))


@functools.lru_cache(maxsize=1024)
def _latency(rule: str) -> Any:
    return LATENCY.labels(rule)


def count_grant(grant_type: str | None, response: Response | None) -> None:
    """Count one token endpoint answer by grant type and outcome (None: a store outage)."""
    outcome = "issued"
    if response is None:
        outcome = "temporarily_unavailable"
    elif response.status_code != 200:
        body = response.get_json(silent=True)
        error = body.get("error") if isinstance(body, dict) else None
        outcome = error if error in _OUTCOMES else "other"
    _grants(_GRANT_TYPES.get(grant_type or "", "other"), outcome).inc()


def count_issued(grant_type: str) -> None:
    """Count one token endpoint answer that issued a token of ``grant_type``."""
    _grants(_GRANT_TYPES.get(grant_type, "other"), "issued").inc()


@functools.lru_cache(maxsize=256)
def _grants(grant_type: str, outcome: str) -> Any:
    return GRANTS.labels(grant_type, outcome)


def exposition() -> Response:
    """The text exposition of every metric (summed over workers in multiprocess mode)."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
