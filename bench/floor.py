"""``make bench-floor``: the floor of each hot workload, next to node-oidc-provider and Chatframe.

Serves ``bench/floor_app.py`` (each workload's unavoidable work as a bare WSGI app, see its
docstring) with ``chatframe serve``'s HTTP server and settings, on a scratch PostgreSQL
database and Redis prefix, and replays the same kind of unique requests as ``make bench``
with the same wrk script. In the same run it measures node-oidc-provider's
``client_credentials`` (before and after each server, as ``make bench`` does) and Chatframe
itself on PostgreSQL + Redis, then prints per workload: the floor's ratio, Chatframe's ratio,
the target, and what share of the floor Chatframe reaches.

A target above the floor's ratio cannot be met by any implementation in this stack that does
the work the floor does; see bench/README.md, "The floor".
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from . import wrk
from .peer import Peer
from .prepare import FORM, DpopSigner, b64url, basic_auth, chat_lines, line
from .run import EMPTY_ROUTE, TARGETS, Bench, env_number, write_json
from .server import PG_ADMIN_URL, REDIS_URL, Chatframe, free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = """
CREATE TABLE bots (id text PRIMARY KEY, customer_id text NOT NULL, name text NOT NULL,
                   enabled boolean NOT NULL, audience text NOT NULL);
CREATE TABLE partner_users (id text PRIMARY KEY, customer_id text NOT NULL,
                            external_id text NOT NULL, UNIQUE (customer_id, external_id));
CREATE TABLE memberships (bot_id text NOT NULL, user_id text NOT NULL,
                          PRIMARY KEY (bot_id, user_id));
CREATE TABLE sessions (id text PRIMARY KEY, customer_id text NOT NULL,
                       partner_user_pk text NOT NULL, bots json NOT NULL, dpop_jkt text,
                       revoked_at timestamptz, expires_at timestamptz NOT NULL);
CREATE TABLE refresh_tokens (token_hash text PRIMARY KEY, session_id text NOT NULL,
                             rotated_at timestamptz, expires_at timestamptz NOT NULL);
CREATE TABLE security_events (id bigserial PRIMARY KEY, type text NOT NULL,
                              customer_id text, client_id text, data json,
                              created_at timestamptz NOT NULL DEFAULT now());
"""
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
FEWEST = " (fewest)"  # the floor's rows for the same work in the fewest round trips


class Floor:
    """The floor app on its own database and Redis prefix, served like ``chatframe serve``."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="chatframe-floor-"))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database = f"chatframe_floor_{secrets.token_hex(4)}"
        self.dsn = PG_ADMIN_URL.replace("+psycopg", "").rsplit("/", 1)[0] + f"/{self.database}"
        self.prefix = f"chatframe-floor-{secrets.token_hex(4)}"
        self.hash_key = secrets.token_hex(16)
        self.secret = secrets.token_urlsafe(32)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.dpop = DpopSigner()
        self.verifier = secrets.token_urlsafe(48)
        self.process: subprocess.Popen[bytes] | None = None
        self.redis = redis.Redis.from_url(REDIS_URL)
        self._serial = 0
        self.path_prefix = ""  # "/min": the same work in the fewest round trips
        self.threads = int(os.environ.get("BENCH_FLOOR_THREADS", "4"))

    # -- setup ----------------------------------------------------------------------------

    def create(self) -> None:
        with psycopg.connect(self._admin_dsn(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(SCHEMA)
            conn.execute(
                "INSERT INTO bots VALUES ('bot_floor', 'cus_floor', 'Floor bot', true, 'all_users')"
            )
            conn.execute("INSERT INTO partner_users VALUES ('pu_floor', 'cus_floor', 'floor-user')")
        # The same bot for the chat check that reads only Redis (/min).
        self.redis.hset(
            f"{self.prefix}:bot:bot_floor",
            mapping={"enabled": "1", "audience": "all_users", "name": "Floor bot"},
        )
        key_path = self.folder / "signing.pem"
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "FLOOR_DSN": self.dsn,
            "FLOOR_REDIS": REDIS_URL,
            "FLOOR_PREFIX": self.prefix,
            "FLOOR_KEY": str(key_path),
            "FLOOR_ISSUER": self.base_url,
            "FLOOR_HASH_KEY": self.hash_key,
            "FLOOR_SECRET_HASH": self._hash(self.secret),
        }

    def _admin_dsn(self) -> str:
        return PG_ADMIN_URL.replace("+psycopg", "")

    def _hash(self, value: str) -> str:
        import hashlib
        import hmac

        return hmac.new(self.hash_key.encode(), value.encode(), hashlib.sha256).hexdigest()

    def start(self) -> None:
        # The same server, workers, threads and access log as `chatframe serve` on PostgreSQL.
        code = (
            "from authserver.cli import run_granian; "
            f"run_granian('127.0.0.1', {self.port}, 2, {self.threads}, "
            "'bench.floor_app:app', False)"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "server.log").open("w"),
        )
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: the floor app exited; see {self.folder}/server.log")
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise SystemExit("bench: the floor app did not answer within 60 s")

    def destroy(self) -> None:
        stop_process(self.process)
        with psycopg.connect(self._admin_dsn(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        keys = list(self.redis.scan_iter(match=f"{self.prefix}*", count=1000))
        for i in range(0, len(keys), 1000):
            self.redis.delete(*keys[i : i + 1000])
        self.redis.close()

    # -- request lines (each unique where the protocol demands it) ------------------------

    @property
    def token_url(self) -> str:
        return f"{self.base_url}{self.path_prefix}/oauth/token"

    @property
    def chat_url(self) -> str:
        return f"{self.base_url}{self.path_prefix}/chat/api/bots/bot_floor"

    def _auth(self) -> str:
        return basic_auth("cf_floor", self.secret)

    def cc_line(self) -> str:
        return line(
            "POST",
            self.token_url,
            "grant_type=client_credentials&scope=manage",
            [FORM, self._auth()],
        )

    def exchange_lines(self, count: int) -> list[str]:
        from urllib.parse import urlencode

        challenge = self._challenge()
        lines = []
        for _ in range(count):
            self._serial += 1
            body = urlencode(
                {
                    "grant_type": EXCHANGE,
                    "subject_token": f"floor-user-{self._serial}",  # first seen, as in make bench
                    "subject_token_type": "urn:chatframe:token-type:partner-user-id",
                    "scope": "chat bot:bot_floor",
                    "origin": "https://shop.floor.example",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "dpop_jkt": self.dpop.jkt,
                }
            )
            lines.append(line("POST", self.token_url, body, [FORM, self._auth()]))
        return lines

    def _challenge(self) -> str:
        import hashlib

        return b64url(hashlib.sha256(self.verifier.encode()).digest())

    def redemption_lines(self, count: int) -> list[str]:
        from urllib.parse import urlencode

        value = json.dumps(
            {
                "client_id": "cf_floor",
                "origin": "https://shop.floor.example",
                "user": "pu_floor",
                "bots": ["bot_floor"],
                "challenge": self._challenge(),
                "dpop_jkt": self.dpop.jkt,
            }
        )
        codes = [secrets.token_urlsafe(32) for _ in range(count)]
        with self.redis.pipeline(transaction=False) as pipe:
            for code in codes:
                pipe.set(f"{self.prefix}:code:{self._hash(code)}", value, px=600_000)
            pipe.execute()
        return [
            line(
                "POST",
                self.token_url,
                urlencode(
                    {
                        "grant_type": "authorization_code",
                        "code": code,
                        "code_verifier": self.verifier,
                        "client_id": "cf_floor",
                        "origin": "https://shop.floor.example",
                    }
                ),
                [FORM, "DPoP: " + self.dpop.proof("POST", self.token_url)],
            )
            for code in codes
        ]

    def _sessions(self, count: int) -> list[tuple[str, str]]:
        """``count`` live sessions with a refresh token each: (session id, refresh token)."""
        made = [(f"ses_{secrets.token_hex(12)}", secrets.token_urlsafe(32)) for _ in range(count)]
        with psycopg.connect(self.dsn, autocommit=True) as conn, conn.cursor() as cur:
            with cur.copy(
                "COPY sessions (id, customer_id, partner_user_pk, bots, dpop_jkt, expires_at) "
                "FROM STDIN"
            ) as copy:
                for sid, _ in made:
                    copy.write_row(
                        (
                            sid,
                            "cus_floor",
                            "pu_floor",
                            '["bot_floor"]',
                            self.dpop.jkt,
                            "2999-01-01T00:00:00Z",
                        )
                    )
            with cur.copy(
                "COPY refresh_tokens (token_hash, session_id, expires_at) FROM STDIN"
            ) as copy:
                for sid, token in made:
                    copy.write_row((self._hash(token), sid, "2999-01-01T00:00:00Z"))
        return made

    def refresh_lines(self, count: int) -> list[str]:
        from urllib.parse import urlencode

        return [
            line(
                "POST",
                self.token_url,
                urlencode(
                    {"grant_type": "refresh_token", "refresh_token": token, "client_id": "cf_floor"}
                ),
                [FORM, "DPoP: " + self.dpop.proof("POST", self.token_url)],
            )
            for _, token in self._sessions(count)
        ]

    def chat_lines(self, count: int) -> list[str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        now = int(time.time())
        tokens = []
        sessions = self._sessions(min(count, 1000))  # as make bench: up to 1,000 sessions
        with self.redis.pipeline(transaction=False) as pipe:
            for sid, _ in sessions:  # for the chat check that reads only Redis (/min)
                pipe.hset(
                    f"{self.prefix}:session:{sid}",
                    mapping={"exp": str(now + 86_400), "user": "pu_floor"},
                )
            pipe.execute()
        for sid, _ in sessions:
            header = b64url(json.dumps({"alg": "ES256", "kid": "k1", "typ": "at+jwt"}).encode())
            claims = {
                "iss": self.base_url,
                "aud": f"{self.base_url}/chat",
                "sub": "pu_floor",
                "sid": sid,
                "bots": ["bot_floor"],
                "cnf": {"jkt": self.dpop.jkt},
                "iat": now,
                "exp": now + 900,
                "jti": secrets.token_urlsafe(12),
            }
            payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
            r, s = decode_dss_signature(
                self.key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
            )
            signature = b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
            tokens.append(f"{header}.{payload}.{signature}")
        return chat_lines(self.dpop, self.chat_url, tokens, count)


def floor_workloads(bench: Bench, floor: Floor) -> dict[str, wrk.Measure]:
    """The five workloads (and the empty route) against the running floor app, then the four
    with I/O again in the fewest round trips (``<workload> (fewest)``)."""
    url, seconds = floor.base_url, bench.duration
    results: dict[str, wrk.Measure] = {}
    bench.warm_up(url, floor.cc_line())
    bench.say("floor: client_credentials")
    results["client_credentials"] = bench.replay(url, [floor.cc_line()], repeat=True)
    bench.say(f"  {results['client_credentials'].rps:,.0f} req/s")
    # Generously more than the fastest floor workload can use in the run.
    count = int(results["client_credentials"].rps * seconds * 1.3) + 1000
    for prefix, suffix in (("", ""), ("/min", FEWEST)):
        floor.path_prefix = prefix
        for name, make_lines in (
            ("token_exchange", floor.exchange_lines),
            ("redemption", floor.redemption_lines),
            ("refresh", floor.refresh_lines),
            ("chat_token_check", floor.chat_lines),
        ):
            results[name + suffix] = bench.unique(f"floor {name}{suffix}", url, make_lines, count)
    floor.path_prefix = ""
    results[EMPTY_ROUTE] = bench.replay(url, [line("GET", f"{url}/healthz")], repeat=True)
    return results


def main() -> None:
    bench = Bench(
        duration=env_number("BENCH_DURATION", 6),
        threads=int(env_number("BENCH_THREADS", 1)),
        connections=16,
        warmup=env_number("BENCH_WARMUP", 2),
    )
    with_chatframe = os.environ.get("BENCH_FLOOR_CHATFRAME", "1") != "0"
    peer = Peer()
    peer.start()
    results: dict[str, dict[str, wrk.Measure]] = {}
    refs: dict[str, float] = {}
    try:
        servers: list[str] = ["floor"] + (["chatframe"] if with_chatframe else [])
        bench.measure_peer(peer)
        for name in servers:
            before = bench.peer_runs[-1].rps
            if name == "floor":
                floor = Floor()
                try:
                    floor.create()
                    floor.start()
                    results[name] = floor_workloads(bench, floor)
                finally:
                    floor.destroy()
            else:
                server = Chatframe("postgres")
                try:
                    server.create()
                    server.start()
                    results[name] = bench.workloads(server)
                finally:
                    server.destroy()
            after = bench.measure_peer(peer).rps
            refs[name] = (before + after) / 2
    finally:
        peer.stop()
    print_floor(results, refs)
    write_json(
        {
            "reference_rps": refs,
            "peer_client_credentials": [m.as_dict() for m in bench.peer_runs],
            "rows": {n: {w: m.as_dict() for w, m in r.items()} for n, r in results.items()},
        },
        "floor.json",
    )


def print_floor(results: dict[str, dict[str, wrk.Measure]], refs: dict[str, float]) -> None:
    print()
    print("1.0x = node-oidc-provider's client_credentials, the mean of its runs around each")
    print("server:")
    print("  " + ", ".join(f"{n} {r:,.0f} req/s" for n, r in refs.items()))
    floor, chatframe = results.get("floor", {}), results.get("chatframe", {})
    head = f"{'workload':<26} {'floor req/s':>12} {'floor':>7} {'target':>7}"
    if chatframe:
        head += f" {'chatframe req/s':>16} {'chatframe':>10} {'of floor':>9}"
    print(head)
    print("-" * len(head))
    rows = [*TARGETS, *(w + FEWEST for w in TARGETS if w != "client_credentials"), EMPTY_ROUTE]
    for workload in rows:
        f = floor.get(workload)
        if f is None:
            continue
        ratio = f.rps / refs["floor"]
        target = TARGETS.get(workload.removesuffix(FEWEST))
        wanted = f"{target:.2f}x" if target else ""
        row = f"{workload:<26} {f.rps:>12,.0f} {ratio:>6.2f}x {wanted:>7}"
        flags = []
        if f.non2xx or any(f.socket_errors.values()) or f.ran_out:
            flags.append(f"floor: non-2xx {f.non2xx}, ran out {f.ran_out}, {f.socket_errors}")
        c = chatframe.get(workload)
        if c is not None:
            cratio = c.rps / refs["chatframe"]
            row += f" {c.rps:>16,.0f} {cratio:>9.2f}x {cratio / ratio:>8.0%}"
            if c.non2xx or any(c.socket_errors.values()) or c.ran_out:
                flags.append(f"chatframe: non-2xx {c.non2xx}, ran out {c.ran_out}")
        print(row + ("   " + "; ".join(flags) if flags else ""))
    print("A target above the floor's ratio is out of reach of any implementation doing that work.")


if __name__ == "__main__":
    main()
