"""The ephemeral store: one-time embed codes, replay caches and rate-limit counters.

One interface, two interchangeable backends: :class:`SqlEphemeralStore` (the embedded default)
and :class:`RedisEphemeralStore` (production). Every operation that decides a race — consuming a
code, remembering a ``jti``, counting a request — is a single atomic step in both.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import redis
from sqlalchemy import and_, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from . import fastsql
from .models import EphemeralEntry

# Database statements to commit with an entry (``fastsql.transaction`` steps).
Write = tuple[fastsql.Prepared, Mapping[str, Any]]
Writes = Sequence[Write]


@dataclass(frozen=True)
class Consumed:
    """Result of :meth:`EphemeralStore.consume`.

    ``value`` is the stored value when this call consumed it; ``tombstone`` is what the first
    consumer left behind when the entry had already been consumed (``None`` if it never
    existed or has expired).
    """

    value: dict[str, Any] | None
    tombstone: dict[str, Any] | None = None
    remembered: bool | None = None  # with ``remember``: False when it was a replay


@runtime_checkable
class EphemeralStore(Protocol):
    """Short-lived state shared by every worker."""

    def put(self, kind: str, key: str, value: dict[str, Any], ttl: float) -> None:
        """Store ``value`` under (kind, key) for ``ttl`` seconds, replacing any earlier one."""

    def put_with(
        self,
        kind: str,
        key: str,
        value: dict[str, Any],
        ttl: float,
        writes: Writes,
        *,
        first: Write | None = None,
    ) -> bool:
        """``put``, and commit ``writes`` (database statements) with it: in the SQL store one
        transaction for all (all or nothing); with Redis the entry first, then the writes
        as one transaction (an entry nobody was told about is harmless: it expires).

        ``first``: a conditional write (an insert that skips a conflict) committed before
        ``writes``; when it writes no row, neither do ``writes`` and False is returned (the SQL
        store then stores no entry either; the Redis entry stays, for the caller to replace).
        """

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        """Return the live value under (kind, key), or None."""

    def consume(
        self,
        kind: str,
        key: str,
        tombstone: dict[str, Any],
        tombstone_ttl: float,
        *,
        remember: tuple[str, str, float] | None = None,
    ) -> Consumed:
        """Atomically take the value and leave ``tombstone`` in its place (single use).

        ``remember`` (kind, key, ttl): also ``remember`` that key in the same step, whether
        or not there was a value to take; ``Consumed.remembered`` says whether it was new.
        """

    def remember(self, kind: str, key: str, ttl: float) -> bool:
        """Record (kind, key) for ``ttl`` seconds; False if it was already recorded (a replay)."""

    def hit(self, kind: str, key: str, window: int) -> tuple[int, int]:
        """Count one request in the current fixed window; return (count, seconds until reset)."""

    def hit_many(self, counters: Sequence[tuple[str, str]], window: int) -> list[int]:
        """Count one request on each (kind, key) counter in one step; return their counts."""


def _window(window: int, now: float) -> tuple[int, int]:
    start = int(now // window) * window
    return start, max(1, start + window - int(now))


def seconds_until_reset(window: int) -> int:
    """Seconds until the current fixed rate-limit window of ``window`` seconds ends."""
    return _window(window, time.time())[1]


class SqlEphemeralStore:
    """Ephemeral store in the main SQL database (SQLite or PostgreSQL).

    Each atomic step is its own committed transaction (``fastsql.writing`` or
    ``fastsql.transaction``: statements compiled once, run on a driver connection, SQLite's
    lock taken up front; inside an open ORM transaction, through the session, committing it),
    so a consumed code stays consumed even if the request later fails. Reads are plain reads.
    """

    PURGE_EVERY = 60.0  # seconds between sweeps of expired rows, per process

    def __init__(self) -> None:
        self._last_purge = 0.0

    def put(self, kind: str, key: str, value: dict[str, Any], ttl: float) -> None:
        self.put_with(kind, key, value, ttl, [])

    def put_with(
        self,
        kind: str,
        key: str,
        value: dict[str, Any],
        ttl: float,
        writes: Writes,
        *,
        first: Write | None = None,
    ) -> bool:
        # One write transaction instead of two: on SQLite each is the writer lock and a sync.
        self._maybe_purge()
        entry = {
            "kind": kind,
            "key": key,
            "value": json.dumps(value),
            "expires_at": time.time() + ttl,
        }
        if first is None:
            return fastsql.transaction([(_PUT, entry), *writes])
        return fastsql.transaction([first, (_PUT, entry), *writes], only_if_first_writes=True)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        # A plain read (autocommit): it sees every committed write, and on SQLite it does
        # not queue for the writer lock behind the writes.
        row = _GET.first(kind=kind, key=key, now=time.time())
        return json.loads(row.value) if row is not None and row.value else None

    def consume(
        self,
        kind: str,
        key: str,
        tombstone: dict[str, Any],
        tombstone_ttl: float,
        *,
        remember: tuple[str, str, float] | None = None,
    ) -> Consumed:
        now = time.time()
        remembered = None
        with fastsql.writing() as run:
            # DELETE ... RETURNING is the atomic step: concurrent deleters of the same row
            # serialise on it and all but one get nothing back.
            taken, _ = run(_TAKE, kind=kind, key=key, now=now)
            if remember is not None:
                remembered = _remember_in(run, *remember, now=now)
            if taken:
                run(
                    _TOMBSTONE,
                    kind=f"{kind}:used",
                    key=key,
                    value=json.dumps(tombstone),
                    expires_at=now + tombstone_ttl,
                )
                return Consumed(value=json.loads(taken[0].value), remembered=remembered)
        tombstone_found = self.get(f"{kind}:used", key)
        return Consumed(value=None, tombstone=tombstone_found, remembered=remembered)

    def remember(self, kind: str, key: str, ttl: float) -> bool:
        with fastsql.writing() as run:
            return _remember_in(run, kind, key, ttl, now=time.time())

    def hit(self, kind: str, key: str, window: int) -> tuple[int, int]:
        return self.hit_many([(kind, key)], window)[0], _window(window, time.time())[1]

    def hit_many(self, counters: Sequence[tuple[str, str]], window: int) -> list[int]:
        start, _ = _window(window, time.time())
        counts = []
        with fastsql.writing() as run:
            for kind, key in counters:
                rows, _ = run(_HIT, kind=kind, key=f"{key}@{start}", expires_at=start + window)
                counts.append(int(rows[0].counter))
        return counts

    def _maybe_purge(self) -> None:
        # Redis expires keys itself; here expired rows are swept at most once a minute.
        if time.monotonic() - self._last_purge >= self.PURGE_EVERY:
            self._last_purge = time.monotonic()
            self.purge_expired()

    def purge_expired(self) -> int:
        """Delete expired rows (run at most once a minute by ``put``)."""
        with fastsql.writing() as run:
            return run(_PURGE, now=time.time())[1]

    def count(self, kind: str) -> int:
        """Number of live entries of one kind (for tests and diagnostics)."""
        return int(_COUNT.first(kind=kind, now=time.time())[0])


# The SQL store's statements, each built once (per dialect where the upsert differs).
_E = EphemeralEntry
_LIVE = and_(
    _E.kind == bindparam("kind"), _E.key == bindparam("key"), _E.expires_at > bindparam("now")
)


def _upsert(dialect: str) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(_E).values(
        kind=bindparam("kind"),
        key=bindparam("key"),
        value=bindparam("value"),
        counter=bindparam("counter", 0),
        expires_at=bindparam("expires_at"),
    )


def _put(dialect: str) -> Any:
    stmt = _upsert(dialect)
    return stmt.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
    )


def _remember(dialect: str) -> Any:
    stmt = _upsert(dialect).values(value=None)
    return stmt.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={"expires_at": stmt.excluded.expires_at},
        where=_E.expires_at <= bindparam("now"),
    ).returning(_E.kind)


def _hit(dialect: str) -> Any:
    stmt = _upsert(dialect).values(value=None, counter=1)
    return stmt.on_conflict_do_update(
        index_elements=["kind", "key"], set_={"counter": _E.counter + 1}
    ).returning(_E.counter)


def _remember_in(run: fastsql.Run, kind: str, key: str, ttl: float, *, now: float) -> bool:
    """``remember`` as one statement of a write transaction: insert, or take over a row that
    has already expired. A live row is left alone and no row is returned: that is a replay."""
    rows, _ = run(_REMEMBER, kind=kind, key=key, expires_at=now + ttl, now=now)
    return bool(rows)


_PUT = fastsql.Prepared(_put)
_GET = fastsql.Prepared(select(_E.value).where(_LIVE))
_TAKE = fastsql.Prepared(delete(_E).where(_LIVE).returning(_E.value))
_TOMBSTONE = fastsql.Prepared(lambda dialect: _upsert(dialect).on_conflict_do_nothing())
_REMEMBER = fastsql.Prepared(_remember)
_HIT = fastsql.Prepared(_hit)
_PURGE = fastsql.Prepared(delete(_E).where(_E.expires_at <= bindparam("now")))
_COUNT = fastsql.Prepared(
    select(func.count())
    .select_from(_E)
    .where(_E.kind == bindparam("kind"), _E.expires_at > bindparam("now"))
)


# Atomic "take and leave a tombstone": GET + DEL + SET in one script.
_CONSUME_LUA = """
local value = redis.call('GET', KEYS[1])
if value then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return {1, value}
end
return {0, redis.call('GET', KEYS[2])}
"""

# The same, and ``remember`` KEYS[3] in the same step (1 when it was new, 0 for a replay).
_CONSUME_REMEMBERING_LUA = """
local new = redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[3]) and 1 or 0
local value = redis.call('GET', KEYS[1])
if value then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return {1, value, new}
end
return {0, redis.call('GET', KEYS[2]), new}
"""

# Count one hit on each key and (re)arm its expiry: one round trip and one reply for any
# number of counters, where a MULTI pipeline costs two commands and two replies per counter.
_HIT_LUA = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[1])
end
return counts
"""


class RedisEphemeralStore:
    """Ephemeral store in Redis; keys are namespaced by ``prefix`` (one per deployment/test)."""

    def __init__(self, client: redis.Redis, prefix: str = "chatframe") -> None:
        self._redis = client
        self._prefix = prefix
        self._consume = client.register_script(_CONSUME_LUA)
        self._consume_remembering = client.register_script(_CONSUME_REMEMBERING_LUA)
        self._hit = client.register_script(_HIT_LUA)

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}:{kind}:{key}"

    # The hot commands go through ``execute_command``: redis-py's ``set`` wraps each call in
    # argument-inspecting deprecation decorators that cost more than building the command.
    def put(self, kind: str, key: str, value: dict[str, Any], ttl: float) -> None:
        self._redis.execute_command(
            "SET", self._key(kind, key), json.dumps(value), "PX", max(1, int(ttl * 1000))
        )

    def put_with(
        self,
        kind: str,
        key: str,
        value: dict[str, Any],
        ttl: float,
        writes: Writes,
        *,
        first: Write | None = None,
    ) -> bool:
        self.put(kind, key, value, ttl)
        if first is not None:
            return fastsql.transaction([first, *writes], only_if_first_writes=True)
        if writes:
            fastsql.transaction(writes)
        return True

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        raw = self._redis.execute_command("GET", self._key(kind, key))
        return json.loads(raw) if raw else None

    def consume(
        self,
        kind: str,
        key: str,
        tombstone: dict[str, Any],
        tombstone_ttl: float,
        *,
        remember: tuple[str, str, float] | None = None,
    ) -> Consumed:
        keys = [self._key(kind, key), self._key(f"{kind}:used", key)]
        args: list[Any] = [json.dumps(tombstone), max(1, int(tombstone_ttl * 1000))]
        remembered = None
        if remember is None:
            found, raw = self._consume(keys=keys, args=args)
        else:
            remember_kind, remember_key, remember_ttl = remember
            keys.append(self._key(remember_kind, remember_key))
            args.append(max(1, int(remember_ttl * 1000)))
            found, raw, new = self._consume_remembering(keys=keys, args=args)
            remembered = bool(new)
        if found:
            return Consumed(value=json.loads(raw), remembered=remembered)
        return Consumed(
            value=None, tombstone=json.loads(raw) if raw else None, remembered=remembered
        )

    def remember(self, kind: str, key: str, ttl: float) -> bool:
        return bool(
            self._redis.execute_command(
                "SET", self._key(kind, key), b"1", "NX", "PX", max(1, int(ttl * 1000))
            )
        )

    def hit(self, kind: str, key: str, window: int) -> tuple[int, int]:
        return self.hit_many([(kind, key)], window)[0], _window(window, time.time())[1]

    def hit_many(self, counters: Sequence[tuple[str, str]], window: int) -> list[int]:
        start, _ = _window(window, time.time())
        keys = [self._key(kind, f"{key}@{start}") for kind, key in counters]
        return [int(count) for count in self._hit(keys=keys, args=[window + 1])]
