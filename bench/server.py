"""Chatframe under test: `chatframe serve` on a throw-away SQLite or PostgreSQL + Redis."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.processes import clean_env, cli, seed, start, wait_until_up

from .prepare import Tenant

PG_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
ORIGIN = "https://shop.bench.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Chatframe:
    """One storage backend's database, seeded once, served by ``chatframe serve`` on demand."""

    def __init__(self, backend: str, workers: int = 2) -> None:
        self.backend = backend
        self.workers = workers
        self.folder = Path(tempfile.mkdtemp(prefix=f"chatframe-bench-{backend}-"))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database: str | None = None
        self.redis_prefix: str | None = None
        self.process: subprocess.Popen | None = None
        self.customer_id = ""
        self.tenant: Tenant | None = None
        self.database_url = f"sqlite:///{self.folder}/bench.db"
        self.env: dict[str, str] = {}

    def create(self) -> Tenant:
        """Create the database (and Redis prefix), migrate it and seed the bench's tenant."""
        if self.backend == "postgres":
            self.database_url = self._create_postgres_database()
        self.env = clean_env(
            CHATFRAME_ISSUER=self.base_url,
            CHATFRAME_DATABASE_URL=self.database_url,
            CHATFRAME_KEYS_DIR=str(self.folder / "keys"),
            CHATFRAME_SECRET_KEY=secrets.token_urlsafe(48),
            # The bench measures work, not 429s: every exchange is one client's.
            CHATFRAME_EXCHANGE_LIMIT_PER_CLIENT="1000000",
            CHATFRAME_EXCHANGE_LIMIT_PER_USER="1000000",
            # Codes are captured from the exchange run and redeemed a workload later, and DPoP
            # proofs are signed before the clock starts: see bench/README.md.
            CHATFRAME_CODE_TTL="300",
            CHATFRAME_DPOP_LEEWAY="120",
        )
        if self.backend == "postgres":
            self._check_redis()
            self.redis_prefix = f"chatframe-bench-{secrets.token_hex(4)}"
            self.env.update(CHATFRAME_REDIS_URL=REDIS_URL, CHATFRAME_REDIS_PREFIX=self.redis_prefix)
        cli(self.env, self.folder, "db", "upgrade")
        seeded = seed(self.env, self.folder, ORIGIN)
        self.customer_id = seeded.customer_id
        self.tenant = Tenant(
            self.base_url, seeded.client_id, seeded.client_secret, seeded.bot_id, ORIGIN
        )
        return self.tenant

    def _create_postgres_database(self) -> str:
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import OperationalError

        name = f"chatframe_bench_{secrets.token_hex(4)}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as exc:
            raise SystemExit(
                f"bench: cannot create a database on PostgreSQL ({PG_ADMIN_URL.split('@')[-1]}):"
                f" {exc.orig}. Start PostgreSQL or set BENCH_POSTGRES to an admin URL."
            ) from None
        finally:
            admin.dispose()
        self.database = name
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def _check_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise SystemExit(
                f"bench: Redis at {REDIS_URL} does not answer ({exc}). Start it or set BENCH_REDIS."
            ) from None
        finally:
            client.close()

    def start(self) -> None:
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        extra = shlex.split(os.environ.get("BENCH_SERVE_ARGS", ""))  # e.g. "--threads 2"
        self.process = start([*args, "--workers", str(self.workers), *extra], self.env, self.folder)
        wait_until_up(f"{self.base_url}/oauth/jwks", self.process)

    def worker_rss_mb(self) -> dict[int, float]:
        """VmRSS of every process below ``chatframe serve`` (its workers), in MB."""
        if self.process is None:
            return {}
        return {pid: rss for pid, rss in _descendants_rss(self.process.pid).items()}

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def destroy(self) -> None:
        """Stop the server, drop the database, delete the Redis keys and the temp folder."""
        self.stop()
        if self.database:
            from sqlalchemy import create_engine, text

            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
            admin.dispose()
        if self.redis_prefix:
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{self.redis_prefix}*", count=1000))
            for i in range(0, len(keys), 1000):
                client.delete(*keys[i : i + 1000])
            client.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM a server still running, and wait for it (killed after 30 s)."""
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants_rss(pid: int) -> dict[int, float]:
    tree = _children()
    found: dict[int, float] = {}
    stack = list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        stack.extend(tree.get(child, []))
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        for row in status.splitlines():
            if row.startswith("VmRSS:"):
                found[child] = int(row.split()[1]) / 1024
    return found
