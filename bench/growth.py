"""Bulk-load partner users, sessions and bots into a bench database with PostgreSQL COPY."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Iterator

from sqlalchemy import create_engine, text

from .prepare import Tenant

CHUNK = 50_000
CUSTOMERS = 100  # the loaded bots belong to other customers of the same deployment


def _id(prefix: str) -> str:
    # Random like the product's ids (hex is a subset of their alphabet), but quicker to make.
    return f"{prefix}_{secrets.token_hex(11)}"


def _tsv(rows: Iterator[tuple[object, ...]]) -> Iterator[bytes]:
    """COPY text format in chunks: NULL as \\N; the values never hold tabs or newlines."""
    batch: list[str] = []
    for row in rows:
        batch.append("\t".join(r"\N" if v is None else str(v) for v in row))
        if len(batch) >= CHUNK:
            yield ("\n".join(batch) + "\n").encode()
            batch = []
    if batch:
        yield ("\n".join(batch) + "\n").encode()


def load(
    database_url: str,
    tenant: Tenant,
    customer_id: str,
    users: int,
    sessions: int,
    bots: int,
    progress: Callable[[str], None] = print,
) -> None:
    """Add ``users`` partner users and ``sessions`` live sessions to the bench customer (the one
    the workloads use, so its indexes are the ones that grow) and ``bots`` bots spread over
    other customers; then VACUUM ANALYZE, as autovacuum would soon after a real load (so its
    background work does not land in the timed runs)."""
    if sessions and not users:
        raise SystemExit("bench: sessions need partner users; set BENCH_USERS above 0")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    expires = now + dt.timedelta(hours=12)
    engine = create_engine(database_url)
    user_ids = [_id("usr") for _ in range(users)]
    with engine.begin() as conn:
        superuser = conn.execute(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        ).scalar()
        if superuser:
            # The rows are consistent by construction: skip the per-row foreign-key triggers
            # (three lookups per session row), which otherwise make up most of the load time.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            customers = [_id("cus") for _ in range(CUSTOMERS)]
            _copy(
                cursor,
                "customers (id, name, created_at)",
                ((c, f"Growth customer {i}", now) for i, c in enumerate(customers)),
            )
            progress(f"  bots: {bots:,}")
            _copy(
                cursor,
                "bots (id, customer_id, name, greeting, fallback, access, require_mfa, enabled,"
                " appearance, created_at)",
                (
                    (
                        _id("bot"),
                        customers[i % CUSTOMERS],
                        f"Bot {i}",
                        "Hi! How can I help?",
                        "Sorry, I don't know that one yet.",
                        "members" if i % 2 else "all_users",
                        "false",
                        "true",
                        "{}",
                        now,
                    )
                    for i in range(bots)
                ),
            )
            progress(f"  partner users: {users:,}")
            _copy(
                cursor,
                "partner_users (id, customer_id, partner_user_id, created_at)",
                ((u, customer_id, f"growth-user-{i}", now) for i, u in enumerate(user_ids)),
            )
            progress(f"  sessions: {sessions:,}")
            bots_json = json.dumps([tenant.bot_id])
            scope = f"chat bot:{tenant.bot_id}"
            _copy(
                cursor,
                "sessions (id, customer_id, client_id, partner_user_pk, bots, scope, origin,"
                " dpop_jkt, amr, created_at, expires_at)",
                (
                    (
                        _id("ses"),
                        customer_id,
                        tenant.client_id,
                        user_ids[i % len(user_ids)],
                        bots_json,
                        scope,
                        tenant.origin,
                        secrets.token_hex(16),
                        "[]",
                        now,
                        expires,
                    )
                    for i in range(sessions)
                ),
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def _copy(cursor, target: str, rows: Iterator[tuple[object, ...]]) -> None:  # type: ignore[no-untyped-def]
    with cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for chunk in _tsv(rows):
            copy.write(chunk)
