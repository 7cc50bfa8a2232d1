"""The production topology with local processes: several gunicorn workers, PostgreSQL, Redis.

Workers share only the database, Redis and the keys folder; codes consumed in one worker are
gone for all, and a restart keeps every key and session.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import Storage, free_port
from tests.embed import Backend, Iframe
from tests.processes import clean_env, cli, seed, start, wait_until_up


class Deployment:
    def __init__(self, env: dict[str, str], port: int, cwd: Path) -> None:
        self.env, self.port, self.cwd = env, port, cwd
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = start(
            ["serve", "--port", str(self.port), "--workers", "3"], self.env, self.cwd
        )
        wait_until_up(f"{self.url}/oauth/jwks", self.process)

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def deployment(postgres_storage: Storage, tmp_path: Path) -> Iterator[Deployment]:
    from sqlalchemy import create_engine, text

    from tests.conftest import PG_ADMIN_URL

    name = f"chatframe_topology_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    port = free_port()
    env = clean_env(
        CHATFRAME_ISSUER=f"http://127.0.0.1:{port}",
        CHATFRAME_DATABASE_URL=PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}",
        CHATFRAME_REDIS_URL=postgres_storage.redis_url or "",
        CHATFRAME_REDIS_PREFIX=f"{postgres_storage.redis_prefix}-topology",
        CHATFRAME_SECRET_KEY=secrets.token_urlsafe(48),
        CHATFRAME_KEYS_DIR=str(tmp_path / "keys"),
    )
    deployment = Deployment(env, port, tmp_path)
    cli(env, tmp_path, "db", "upgrade")
    yield deployment
    deployment.stop()
    import redis

    client = redis.Redis.from_url(env["CHATFRAME_REDIS_URL"])
    for key in client.scan_iter(match=f"{env['CHATFRAME_REDIS_PREFIX']}:*", count=1000):
        client.delete(key)
    client.close()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_workers_share_codes_keys_and_sessions_across_a_restart(deployment: Deployment) -> None:
    tenant = seed(deployment.env, deployment.cwd, "http://localhost:5001")
    client = {"client_id": tenant.client_id, "client_secret": tenant.client_secret}
    bot = tenant.bot_id
    deployment.start()
    backend = Backend(deployment.url, client["client_id"], client["client_secret"])

    def session(i: int) -> Iframe:
        iframe = Iframe(deployment.url, client["client_id"], "http://localhost:5001")
        assert iframe.redeem(backend.code(iframe, f"user-{i}", [bot])).status_code == 200
        assert iframe.refresh().status_code == 200
        return iframe

    with ThreadPoolExecutor(max_workers=8) as pool:
        iframes = list(pool.map(session, range(24)))

    # one code, 20 concurrent redemptions spread over the workers: exactly one succeeds
    racer = Iframe(deployment.url, client["client_id"], "http://localhost:5001")
    code = backend.code(racer, "racer", [bot])
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: racer.redeem(code).status_code, range(20)))
    assert statuses.count(200) == 1, statuses

    deployment.stop()
    deployment.start()  # same database, Redis and keys folder
    survivor = iframes[0]
    assert backend.introspect(survivor.tokens["access_token"]).json()["active"] is True
    assert survivor.refresh().status_code == 200
