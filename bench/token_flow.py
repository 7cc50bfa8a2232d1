"""Time the embed flow's token-endpoint steps against a real `chatframe serve`.

    .venv/bin/python bench/token_flow.py [--flows 200] [--workers 2] [--concurrency 4]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
         --redis-url redis://127.0.0.1:6379/0]

Starts gunicorn on a free port with a throw-away database (SQLite by default; with --postgres
a database created for the run and dropped after it, on the server of that admin URL), and
with --redis-url a key prefix of its own that is deleted afterwards. Seeds one
customer, and runs FLOWS complete flows (token exchange → redemption with PKCE + DPoP →
refresh), CONCURRENCY at a time. Prints the median and 95th percentile latency of each step
and the flows per second. Nothing here asserts a speed: figures are for reading.
"""

from __future__ import annotations

import argparse
import secrets
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.embed import Backend, Iframe
from tests.processes import clean_env, cli, seed, start, wait_until_up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--postgres", metavar="ADMIN_URL")
    parser.add_argument("--redis-url")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="chatframe-bench-"))
    port = free_port()
    database_url = f"sqlite:///{folder}/bench.db"
    if args.postgres:
        from sqlalchemy import create_engine, text

        name = f"chatframe_bench_{secrets.token_hex(4)}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        database_url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    env = clean_env(
        CHATFRAME_ISSUER=f"http://127.0.0.1:{port}",
        CHATFRAME_DATABASE_URL=database_url,
        CHATFRAME_KEYS_DIR=str(folder / "keys"),
        CHATFRAME_SECRET_KEY=secrets.token_urlsafe(48),
        CHATFRAME_EXCHANGE_LIMIT_PER_CLIENT="1000000",
        CHATFRAME_EXCHANGE_LIMIT_PER_USER="1000000",
    )
    if args.redis_url:
        env.update(CHATFRAME_REDIS_URL=args.redis_url, CHATFRAME_REDIS_PREFIX=f"bench-{port}")

    cli(env, folder, "db", "upgrade")
    tenant = seed(env, folder, "http://localhost:5001")
    client = {"client_id": tenant.client_id, "client_secret": tenant.client_secret}
    bot = tenant.bot_id
    server = start(["serve", "--port", str(port), "--workers", str(args.workers)], env, folder)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/oauth/jwks", server)
        backend = Backend(url, client["client_id"], client["client_secret"])
        timings: dict[str, list[float]] = {"exchange": [], "redeem": [], "refresh": []}

        def flow(i: int) -> None:
            iframe = Iframe(url, client["client_id"], "http://localhost:5001")
            started = time.perf_counter()
            code = backend.code(iframe, f"user-{i % 50}", [bot])
            timings["exchange"].append(time.perf_counter() - started)
            started = time.perf_counter()
            assert iframe.redeem(code).status_code == 200
            timings["redeem"].append(time.perf_counter() - started)
            started = time.perf_counter()
            assert iframe.refresh().status_code == 200
            timings["refresh"].append(time.perf_counter() - started)

        for i in range(10):  # warm-up
            flow(i)
        for values in timings.values():
            values.clear()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(flow, range(args.flows)))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
        if args.postgres:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if args.redis_url:
            import redis

            store = redis.Redis.from_url(args.redis_url)
            for key in store.scan_iter(match=f"bench-{port}:*", count=1000):
                store.delete(key)

    backend_name = (
        "PostgreSQL + Redis" if args.redis_url else ("PostgreSQL" if args.postgres else "SQLite")
    )
    print(
        f"{args.flows} flows, {args.workers} workers, concurrency {args.concurrency}, "
        f"{backend_name}: {args.flows / elapsed:.1f} flows/s"
    )
    for step, values in timings.items():
        ordered = sorted(values)
        p95 = ordered[int(len(ordered) * 0.95) - 1]
        print(
            f"  {step:<9} median {statistics.median(values) * 1000:6.1f} ms"
            f"   p95 {p95 * 1000:6.1f} ms"
        )


if __name__ == "__main__":
    main()
