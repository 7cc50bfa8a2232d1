"""SQLite's writers, queued: one write transaction at a time, handed over without sleeping.

SQLite lets one connection write at a time and makes the others wait in its busy handler,
which sleeps 1, 2, 5, 10 ms and more between tries: with several workers, most of a write
request's time went to those sleeps. Before ``BEGIN IMMEDIATE`` every connection takes an
exclusive ``flock`` on a file beside the database, which the kernel hands to the next waiter
the moment it is released at COMMIT or ROLLBACK.

The lock is only a queue in front of SQLite's own lock, never a substitute: SQLite still
decides who writes. A connection that cannot get the queue within the busy timeout goes on
without it (SQLite's wait applies as before), so nothing can hang on it.
"""

from __future__ import annotations

import fcntl
import os
import time
import weakref
from typing import Any

_POLL = 0.0002  # seconds between tries while another connection holds the queue


class WriterQueue:
    """One lock file per database; each DBAPI connection holds its own descriptor of it."""

    def __init__(self, database_path: str, timeout: float) -> None:
        self.lock_path = database_path + ".writer-lock"
        self.timeout = timeout

    def acquire(self, dbapi_connection: Any) -> None:
        key = self._key(dbapi_connection)
        fd = self._descriptor(key)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return  # let SQLite's own busy wait decide
                time.sleep(_POLL)
                continue
            _HELD.add(key)
            return

    def release(self, dbapi_connection: Any) -> None:
        key = self._key(dbapi_connection)
        if key in _HELD:
            _HELD.discard(key)
            fcntl.flock(self._descriptor(key), fcntl.LOCK_UN)

    def forget(self, dbapi_connection: Any) -> None:
        """The connection is closed: release and close its descriptor."""
        self.release(dbapi_connection)
        fd = _DESCRIPTORS.pop(self._key(dbapi_connection), None)
        if fd is not None:
            os.close(fd)

    def _key(self, connection: Any) -> tuple[str, int]:
        # SQLAlchemy hands us either the raw sqlite3 connection or its pool proxy.
        return self.lock_path, id(getattr(connection, "dbapi_connection", connection))

    def _descriptor(self, key: tuple[str, int]) -> int:
        fd = _DESCRIPTORS.get(key)
        if fd is None:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            _DESCRIPTORS[key] = fd
        return fd


# sqlite3 connections take no attributes, so the per-connection state is kept here, by lock
# file and connection id; ``forget`` runs when SQLAlchemy closes a connection.
_DESCRIPTORS: dict[tuple[str, int], int] = {}
_HELD: set[tuple[str, int]] = set()


_QUEUES: weakref.WeakKeyDictionary[Any, WriterQueue] = weakref.WeakKeyDictionary()


def queue_for(engine: Any) -> WriterQueue | None:
    """The queue installed on ``engine``, for writes that run on its raw connections."""
    return _QUEUES.get(engine)


def install(engine: Any, queue: WriterQueue) -> None:
    """Queue ``engine``'s write transactions: acquire before BEGIN IMMEDIATE, release after
    COMMIT or ROLLBACK (including the pool's rollback when a connection is returned)."""
    from sqlalchemy import event

    _QUEUES[engine] = queue

    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            queue.release(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            queue.release(dbapi_connection)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback

    @event.listens_for(engine, "close")
    def _close(dbapi_connection: Any, _record: Any) -> None:
        queue.forget(dbapi_connection)

    @event.listens_for(engine, "close_detached")
    def _close_detached(dbapi_connection: Any) -> None:
        queue.forget(dbapi_connection)
