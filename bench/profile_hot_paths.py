"""Profile the hot requests in-process: wall and CPU time, SQL statements and commits per request.

    .venv/bin/python bench/profile_hot_paths.py [--backend sqlite|postgres] [--n 300]
        [--cprofile WORKLOAD | --py-spy WORKLOAD] [--shortcuts-ab ROUNDS]

Calls the WSGI app (fast lane included) on requests prepared before the clock (no HTTP server,
no test client), so the figures are Chatframe's own per-request work: wall time (with the
database and Redis round trips) and this process's CPU time. Timings are rough on a shared
machine (CPU time less so); the statement and commit counts are exact.

``--shortcuts-ab ROUNDS`` then measures what the fast lane's shortcuts save on the chat check:
rounds of ``--n`` chat requests (each with a fresh proof, the tokens reused as an iframe reuses
its token), alternately with the shortcuts on and off, in this one process. Interleaving cancels
most of the machine's drift, which on a shared box is larger than the difference.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import os
import pstats
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from base64 import b64encode
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from werkzeug.test import EnvironBuilder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from authserver import create_app, fastsql
from authserver.config import Settings
from authserver.extensions import db
from authserver.fastlane import FastLane
from tests.embed import PARTNER_USER_ID, TOKEN_EXCHANGE, Iframe

ISSUER = "http://localhost:8000"
ORIGIN = "http://localhost:5001"
PG_ADMIN = os.environ.get(
    "BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


class Counter:
    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0

    def attach(self, engine: Any) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _stmt(*_: Any) -> None:
            self.statements += 1

        @event.listens_for(engine, "commit")
        def _commit(*_: Any) -> None:
            self.commits += 1


def build(backend: str, workdir: Path) -> tuple[Any, Callable[[], None]]:
    from flask_migrate import upgrade

    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if backend == "sqlite":
        settings = Settings(issuer=ISSUER, database_url=f"sqlite:///{workdir}/cf.db")
    else:
        name = f"chatframe_profile_{secrets.token_hex(4)}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        prefix = f"chatframe-profile-{secrets.token_hex(4)}"
        settings = Settings(
            issuer=ISSUER,
            database_url=PG_ADMIN.rsplit("/", 1)[0] + f"/{name}",
            redis_url=REDIS_URL,
            redis_prefix=prefix,
        )

        def cleanup() -> None:
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                client.delete(key)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    settings = settings.replace(
        keys_dir=workdir / "keys",
        secret_key=secrets.token_urlsafe(48),
        exchange_limit_per_client=10**6,
        exchange_limit_per_user=10**6,
    )
    app = create_app(settings, ensure_keys=False)
    with app.app_context():
        upgrade()
        app.extensions["chatframe"].keys.ensure()
    return app, cleanup


PY_SPY_OUT = str(Path(tempfile.gettempdir()) / "chatframe-py-spy-{}.txt")


def _start_py_spy(name: str) -> subprocess.Popen[bytes]:
    """py-spy sampling this process (raw collapsed stacks), started before the timed loop."""
    spy_bin = Path(sys.executable).with_name("py-spy")
    if not spy_bin.exists():
        sys.exit(f"--py-spy needs {spy_bin}: {Path(sys.executable).parent}/pip install py-spy")
    command = [str(spy_bin), "record", "--pid", str(os.getpid()), "--rate", "500"]
    command += ["--format", "raw", "--output", PY_SPY_OUT.format(name)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # attached before the first request
    return spy


def seed(app: Any) -> dict[str, str]:
    from authserver import registry

    with app.app_context():
        customer = registry.create_customer("Bench")
        client, secret = registry.create_client(customer, "web", [ORIGIN])
        bot = registry.create_bot(customer, "Welcome", access="all_users")
        return {"client_id": client.id, "secret": secret, "bot_id": bot.id}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--cprofile", help="profile this workload with cProfile")
    parser.add_argument(
        "--shortcuts-ab",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="then time chat requests with the lane's shortcuts on and off, interleaved",
    )
    parser.add_argument(
        "--py-spy",
        help="sample this workload with py-spy (CPU only, no cProfile overhead; needs py-spy "
        "in the venv: pip install py-spy)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        app, cleanup = build(args.backend, Path(tmp))
        try:
            run(app, args)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            cleanup()


def run(app: Any, args: argparse.Namespace) -> None:
    ids = seed(app)
    client = app.test_client()
    basic = "Basic " + b64encode(f"{ids['client_id']}:{ids['secret']}".encode()).decode()
    counter = Counter()
    with app.app_context():
        counter.attach(db.engine)
    token_url = f"{ISSUER}/oauth/token"

    def exchange(iframe: Iframe, user: str) -> dict[str, Any]:
        return {
            "data": {
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": user,
                "subject_token_type": PARTNER_USER_ID,
                "scope": f"chat bot:{ids['bot_id']}",
                "origin": ORIGIN,
                "code_challenge": iframe.challenge,
                "code_challenge_method": "S256",
                "dpop_jkt": iframe.jkt,
            },
            "headers": {"Authorization": basic},
        }

    n = args.n
    iframes = [Iframe(ISSUER, ids["client_id"], ORIGIN) for _ in range(n)]
    workloads: dict[str, list[dict[str, Any]]] = {}
    workloads["client_credentials"] = [
        {
            "data": {"grant_type": "client_credentials", "scope": "manage"},
            "headers": {"Authorization": basic},
        }
    ] * n
    workloads["token_exchange"] = [exchange(f, f"user-{i % 50}") for i, f in enumerate(iframes)]
    # Each for a user seen for the first time (as in `make bench`, which spreads its
    # exchanges over 20 000 users).
    workloads["exchange_new_user"] = [exchange(f, f"new-{i}") for i, f in enumerate(iframes)]

    def prepare_codes() -> list[dict[str, Any]]:
        out = []
        for i, f in enumerate(iframes):
            r = client.post("/oauth/token", **exchange(f, f"user-{i % 50}"))
            assert r.status_code == 200, r.get_data(as_text=True)
            out.append(
                {
                    "data": {
                        "grant_type": "authorization_code",
                        "code": r.get_json()["access_token"],
                        "code_verifier": f.verifier,
                        "client_id": ids["client_id"],
                        "origin": ORIGIN,
                    },
                    "headers": {"DPoP": f.proof("POST", token_url)},
                }
            )
        return out

    def prepare_refresh(tokens: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "data": {
                    "grant_type": "refresh_token",
                    "refresh_token": t["refresh_token"],
                    "client_id": ids["client_id"],
                },
                "headers": {"DPoP": f.proof("POST", token_url)},
            }
            for f, t in zip(iframes, tokens, strict=True)
        ]

    results: list[tuple[str, float, float, float, float]] = []

    def measure(name: str, method: str, path: str, requests: list[dict[str, Any]]) -> list[Any]:
        counter.statements = counter.commits = 0
        fastsql.executed = 0
        # Each request's WSGI environ is built before the clock: what is timed is the app.
        environs = [
            EnvironBuilder(path=path, method=method, base_url=ISSUER, **req).get_environ()
            for req in requests
        ]
        answers: list[tuple[str, bytes]] = []

        def call(environ: dict[str, Any]) -> None:
            status: list[str] = []
            body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
            answers.append((status[0], body))

        profiler = cProfile.Profile() if args.cprofile == name else None
        spy = _start_py_spy(name) if args.py_spy == name else None
        start, cpu_start = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        for environ in environs:
            call(environ)
        if profiler:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if spy:
            spy.send_signal(signal.SIGINT)
            spy.wait()
            print(f"py-spy: {name}'s stacks (raw, collapsed) are in {PY_SPY_OUT.format(name)}")
        bad = [(status, body) for status, body in answers if not status.startswith("2")]
        assert not bad, (name, bad[0])
        results.append(
            (
                name,
                elapsed / len(requests) * 1000,
                cpu / len(requests) * 1000,
                (counter.statements + fastsql.executed) / len(requests),
                counter.commits / len(requests),
            )
        )
        if profiler:
            only = os.environ.get("PROFILE_FILTER", "")  # a regex of file paths to show
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(only, 45)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return [json.loads(body) for _, body in answers]

    measure("client_credentials", "POST", "/oauth/token", workloads["client_credentials"])
    measure("token_exchange", "POST", "/oauth/token", workloads["token_exchange"])
    measure("exchange_new_user", "POST", "/oauth/token", workloads["exchange_new_user"])
    codes = prepare_codes()
    tokens = measure("code_redemption", "POST", "/oauth/token", codes)
    refreshes = prepare_refresh(tokens)
    tokens = measure("refresh", "POST", "/oauth/token", refreshes)
    bot_path = f"/chat/api/bots/{ids['bot_id']}"
    chat = []
    for f, t in zip(iframes, tokens, strict=True):
        access = t["access_token"]
        chat.append(
            {
                "headers": {
                    "Authorization": f"DPoP {access}",
                    "DPoP": f.proof("GET", ISSUER + bot_path, access_token=access),
                }
            }
        )
    measure("chat_get_bot", "GET", bot_path, chat)

    print(f"{'workload':<20} {'ms/req':>8} {'cpu ms':>8} {'stmts':>6} {'commits':>8}")
    for name, ms, cpu_ms, stmts, commits in results:
        print(f"{name:<20} {ms:8.2f} {cpu_ms:8.2f} {stmts:6.1f} {commits:8.1f}")
    if args.shortcuts_ab:
        shortcuts_ab(app, args.shortcuts_ab, bot_path, iframes, tokens)


def shortcuts_ab(
    app: Any, rounds: int, bot_path: str, iframes: list[Iframe], tokens: list[dict[str, Any]]
) -> None:
    """CPU per chat request with the fast lane's shortcuts on and off, interleaved."""
    lane = app.wsgi_app
    assert isinstance(lane, FastLane)
    with_shortcuts = lane._lanes
    without = {
        method: [dataclasses.replace(one, shortcut=None) for one in lanes]
        for method, lanes in with_shortcuts.items()
    }
    cpu = {"shortcut": 0.0, "lane": 0.0}
    served = {"shortcut": 0, "lane": 0}
    try:
        for round_ in range(rounds):
            for mode in ("shortcut", "lane") if round_ % 2 == 0 else ("lane", "shortcut"):
                environs = [
                    EnvironBuilder(
                        path=bot_path,
                        method="GET",
                        base_url=ISSUER,
                        headers={
                            "Authorization": f"DPoP {t['access_token']}",
                            "DPoP": f.proof(
                                "GET", ISSUER + bot_path, access_token=t["access_token"]
                            ),
                        },
                    ).get_environ()
                    for f, t in zip(iframes, tokens, strict=True)
                ]
                lane._lanes = with_shortcuts if mode == "shortcut" else without
                start = time.process_time()
                for environ in environs:
                    status = _status_of(app, environ)
                    if not status.startswith("200"):
                        raise SystemExit(f"shortcuts A/B: a chat request got {status}")
                cpu[mode] += time.process_time() - start
                served[mode] += len(environs)
    finally:
        lane._lanes = with_shortcuts
    for mode, seconds in cpu.items():
        per_request = seconds / served[mode] * 1e6
        count = served[mode]
        print(f"chat_get_bot through the {mode:<8} {per_request:6.0f} us CPU ({count} requests)")


def _status_of(app: Any, environ: dict[str, Any]) -> str:
    status: list[str] = []
    b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return status[0]


if __name__ == "__main__":
    main()
