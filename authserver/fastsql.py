"""Hot-path statements, compiled once and run straight on the database driver.

The chat API's token check and the token endpoint's reads and writes run on every page load
and every message. Through the ORM session each statement costs ~1-2 ms of Python
(compile-cache lookups, unit of work, result metadata, autobegin, commit) around a ~0.1 ms
round trip. Here a Core statement is compiled once per dialect; a call checks a connection out
of the engine's own pool (same settings, timeouts and outage handling), runs the SQL on a DBAPI
cursor, and converts each column with the type's own processors, so values read and written
are exactly what the ORM would read and write.

- A single statement runs in autocommit: one round trip on PostgreSQL, no ``BEGIN`` or
  ``ROLLBACK``. The connection stays checked out, in autocommit, for the next such statement
  (see ``_Autocommit``), so neither pool bookkeeping nor a mode switch is paid per statement.
- ``transaction`` runs several writes atomically: on PostgreSQL as one statement (the first
  ones as data-modifying ``WITH`` queries), so one round trip; on SQLite behind the writer
  queue with ``BEGIN IMMEDIATE``, like every other write.

Inside an open ORM transaction every call runs through the session instead (joining that
transaction, so a read sees its writes and SQLite's one writer is never waited on by itself):
callers write each statement once and never choose. Driver errors are raised as SQLAlchemy's
``DBAPIError`` subclasses, so ``outages`` answers 503 as it does for every other statement, and
a broken connection is never handed back to the pool.
"""

from __future__ import annotations

import functools
import re
import threading
import time
import weakref
from collections import deque, namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, event, exc
from sqlalchemy import insert as sql_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from . import sqlite_writers
from .extensions import db

# Statements sent here, BEGIN/COMMIT aside (the bench's per-request counts read it; the
# engine's events do not see them).
executed = 0


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: Sequence[str] | None  # bind names in order (qmark drivers), None for named
    defaults: Mapping[str, Any]  # values of binds built into the statement
    binders: Mapping[str, Callable[[Any], Any]]
    row: Any  # namedtuple class, None for statements that return no rows
    processors: Sequence[Callable[[Any], Any] | None]


class Prepared:
    """One Core statement, compiled once per dialect, run on a raw DBAPI cursor."""

    def __init__(self, statement: ClauseElement | Callable[[str], ClauseElement]) -> None:
        """``statement``, or a function of the dialect's name that builds it (for constructs
        of one dialect, such as ``ON CONFLICT``)."""
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is not None:
            return found
        statement = self.statement_for(dialect.name)
        compiled: Any = statement.compile(dialect=dialect)
        binders = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binders[name] = processor
        columns = list(getattr(statement, "exported_columns", ()))  # SELECT or RETURNING
        processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        found = _Compiled(
            sql=compiled.string,
            positions=list(compiled.positiontup) if compiled.positional else None,
            defaults={  # values the statement carries itself (a caller's params win)
                name: value
                for name, value in compiled.params.items()
                if name not in compiled.binds or not compiled.binds[name].required
            },
            binders=binders,
            row=namedtuple("Row", [str(c.key) for c in columns], rename=True) if columns else None,
            processors=processors,
        )
        self._by_dialect[dialect.name] = found
        return found

    def statement_for(self, dialect_name: str) -> ClauseElement:
        """The Core statement for this dialect (for running it through a session instead)."""
        if isinstance(self.statement, ClauseElement):
            return self.statement
        return self.statement(dialect_name)

    def bound(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        """The compiled statement and the driver's arguments for ``params``."""
        compiled = self._compiled(dialect)
        values = {**compiled.defaults, **params}
        for name, binder in compiled.binders.items():
            if name in values:
                values[name] = binder(values[name])
        if compiled.positions is not None:
            return compiled, [values[name] for name in compiled.positions]
        return compiled, values

    def _run(self, params: Mapping[str, Any], fetch: bool) -> tuple[list[Any], int]:
        if not usable():
            return _in_session(self, params)
        global executed
        executed += 1
        dialect = db.engine.dialect
        compiled, args = self.bound(dialect, params)
        with _driver(dialect, autocommit=True, sql=compiled.sql) as connection:
            cursor = connection.cursor()
            try:
                cursor.execute(compiled.sql, args)
                raw = cursor.fetchall() if fetch else []
                count = cursor.rowcount
            finally:
                cursor.close()
        return _rows(compiled, raw), count

    def all(self, **params: Any) -> list[Any]:
        """Every row, as named tuples (``row.column``)."""
        return self._run(params, fetch=True)[0]

    def first(self, **params: Any) -> Any:
        """The first row, or None."""
        rows = self._run(params, fetch=True)[0]
        return rows[0] if rows else None

    def execute(self, **params: Any) -> int:
        """Run a statement that returns no rows (INSERT, UPDATE, DELETE), committed (inside an
        open transaction: part of it); the number of rows it wrote."""
        return self._run(params, fetch=False)[1]


def _in_session(prepared: Prepared, params: Mapping[str, Any]) -> tuple[list[Any], int]:
    """Inside an open ORM transaction: the statement joins it, on the session's connection (so
    it sees the transaction's own writes, and SQLite's one writer is that transaction).

    The very SQL the driver path sends, compiled once: executing the Core statement with these
    parameters instead would let SQLAlchemy turn any that share a column's name into extra
    ``SET`` clauses of an ``UPDATE``.
    """
    connection = db.session().connection()
    compiled, args = prepared.bound(connection.dialect, params)
    # qmark drivers: one tuple of values (a list would read as many rows of parameters).
    result = connection.exec_driver_sql(
        compiled.sql, tuple(args) if compiled.positions is not None else args
    )
    raw = result.fetchall() if result.returns_rows else []
    return _rows(compiled, raw), result.rowcount


def _rows(compiled: _Compiled, raw: Sequence[Any]) -> list[Any]:
    row, processors = compiled.row, compiled.processors
    if row is None:  # a RETURNING the compiler did not describe: plain tuples
        return [tuple(values) for values in raw]
    return [
        row(*[p(v) if p else v for p, v in zip(processors, values, strict=True)]) for values in raw
    ]


Run = Callable[..., tuple[list[Any], int]]


@contextmanager
def writing() -> Iterator[Run]:
    """A write transaction on a driver connection; yields ``run(prepared, **params)``, which
    returns (rows, rows written). Committed at the end of the block, rolled back on error.

    SQLite: ``BEGIN IMMEDIATE`` behind the writer queue (the lock taken up front, as for every
    write). PostgreSQL: each ``run`` is a round trip; prefer one statement where it can be.
    Inside an open ORM transaction the statements join it, and it is committed at the end.
    """
    if not usable():
        session = db.session()
        try:
            yield lambda prepared, **params: _in_session(prepared, params)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return
    dialect = db.engine.dialect
    sqlite_db = dialect.name == "sqlite"
    with _driver(dialect, autocommit=False, sql="(a fastsql transaction)") as connection:
        driver = connection.driver_connection
        cursor = connection.cursor()
        queue = sqlite_writers.queue_for(db.engine) if sqlite_db else None
        if queue is not None:
            queue.acquire(driver)
        try:
            if sqlite_db:
                cursor.execute("BEGIN IMMEDIATE")

            def run(prepared: Prepared, **params: Any) -> tuple[list[Any], int]:
                global executed
                executed += 1
                compiled, args = prepared.bound(dialect, params)
                cursor.execute(compiled.sql, args)
                raw = cursor.fetchall() if cursor.description else []
                return _rows(compiled, raw), cursor.rowcount

            try:
                yield run
                if sqlite_db:
                    cursor.execute("COMMIT")
                else:
                    driver.commit()
            except BaseException:
                if sqlite_db:
                    if driver.in_transaction:
                        cursor.execute("ROLLBACK")
                else:
                    _rollback(connection, dialect.loaded_dbapi)
                raise
        finally:
            if queue is not None:
                queue.release(driver)
            cursor.close()


def insert(model: Any, *, skip_conflicts: bool = False) -> Prepared:
    """``INSERT`` of one row of ``model``'s table: every column but an integer key (which the
    database numbers); each parameter is named after its column and must be given.

    ``skip_conflicts``: a row that would break a unique constraint is not written (``ON
    CONFLICT DO NOTHING``, on both databases), and ``execute`` says 0.
    """
    table = model.__table__
    values = {
        column.key: bindparam(column.key, type_=column.type)
        for column in table.columns
        if not (column.primary_key and isinstance(column.type, Integer))
    }
    if not skip_conflicts:
        return Prepared(sql_insert(table).values(values))

    def build(dialect: str) -> ClauseElement:
        module = postgresql if dialect == "postgresql" else sqlite
        return module.insert(table).values(values).on_conflict_do_nothing()

    return Prepared(build)


def transaction(
    steps: Sequence[tuple[Prepared, Mapping[str, Any]]], *, only_if_first_writes: bool = False
) -> bool:
    """Run writing statements (that return nothing) as one transaction: all or none.

    ``only_if_first_writes``: when the first statement writes no row (a conditional UPDATE
    that lost, an insert that skipped a conflict), the others are not run and nothing is
    written; returns whether they ran. On PostgreSQL each later step must then be an
    ``INSERT ... VALUES`` (it becomes ``INSERT ... SELECT ... WHERE EXISTS`` the first's row).

    Inside an open ORM transaction the statements join it, and it is committed with them (or,
    after a lost first step, rolled back).
    """
    global executed
    dialect = db.engine.dialect
    if usable() and dialect.name == "postgresql":
        executed += 1
        bound = [prepared.bound(dialect, params) for prepared, params in steps]
        sql, args = (_conditional if only_if_first_writes else _one_statement)(bound)
        with _driver(dialect, autocommit=True, sql=sql) as connection:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, args)
                first_wrote = cursor.fetchone()[0] > 0 if only_if_first_writes else True
            finally:
                cursor.close()
        return first_wrote
    # SQLite (BEGIN IMMEDIATE behind the writer queue), or inside an open ORM transaction.
    try:
        with writing() as run:
            for i, (prepared, params) in enumerate(steps):
                written = run(prepared, **params)[1]
                if i == 0 and only_if_first_writes and written == 0:
                    raise _FirstStepLost  # rolls the transaction back
    except _FirstStepLost:
        return False
    return True


class _FirstStepLost(Exception):
    """A conditional first step wrote nothing: roll back, run nothing else."""


_NAMED = re.compile(r"%\((\w+)\)s")


def _one_statement(bound: list[tuple[_Compiled, Any]]) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: the writes as one statement, each but the last a data-modifying ``WITH``
    (atomic, one round trip; foreign keys are checked at its end, so a row may refer to one
    inserted beside it)."""
    if len(bound) == 1:
        return bound[0][0].sql, bound[0][1]
    return _joined(tuple(compiled.sql for compiled, _ in bound)), _numbered_args(bound)


def _conditional(bound: list[tuple[_Compiled, Any]]) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: ``transaction(only_if_first_writes=True)`` as one statement returning how
    many rows the first step wrote; every later step writes only if that is not 0.

    Every step is a data-modifying ``WITH`` (each runs once, to completion, whether or not
    the main query reads it); the first returns a row per row it wrote, and each later
    ``INSERT ... VALUES (...)`` becomes ``INSERT ... SELECT ... WHERE EXISTS`` such a row.
    """
    sqls = tuple(compiled.sql for compiled, _ in bound)
    return _joined_conditionally(sqls), _numbered_args(bound)


# The joined statements depend only on the steps' compiled SQL, a handful of shapes per
# process: each is built once (the values are always bound parameters, never part of it).


@functools.lru_cache(maxsize=256)
def _joined(sqls: tuple[str, ...]) -> str:
    parts = _numbered(sqls)
    ctes = ", ".join(f"s{i} AS ({sql})" for i, sql in enumerate(parts[:-1]))
    return f"WITH {ctes} {parts[-1]}"


@functools.lru_cache(maxsize=256)
def _joined_conditionally(sqls: tuple[str, ...]) -> str:
    parts = _numbered(sqls)
    if " RETURNING " in parts[0]:
        raise ValueError("the conditional first step must not have a RETURNING clause")
    steps = [f"s0 AS ({parts[0]} RETURNING 1)"]
    steps += [f"s{i} AS ({_only_if_s0(sql)})" for i, sql in enumerate(parts) if i > 0]
    # Only compiled statements are joined here: every value stays a bound parameter.
    return f"WITH {', '.join(steps)} SELECT count(*) FROM s0"  # noqa: S608


def _numbered(sqls: tuple[str, ...]) -> list[str]:
    """Each step's SQL with its parameters renamed ``s<i>_<name>``."""
    return [_NAMED.sub(rf"%(s{i}_\1)s", sql) for i, sql in enumerate(sqls)]


def _numbered_args(bound: list[tuple[_Compiled, Any]]) -> dict[str, Any]:
    """All the steps' arguments, each renamed as :func:`_numbered` renames its parameter."""
    args: dict[str, Any] = {}
    for i, (_, values) in enumerate(bound):
        prefix = f"s{i}_"
        args.update({prefix + name: value for name, value in values.items()})
    return args


def _only_if_s0(sql: str) -> str:
    """``INSERT INTO t (...) VALUES (...) [ON CONFLICT ...]`` that writes only if ``s0`` has a
    row: ``INSERT INTO t (...) SELECT ... WHERE EXISTS (SELECT 1 FROM s0) [ON CONFLICT ...]``.
    (The values' casts, which the psycopg dialect renders, give the selected values types.)"""
    head, found, tail = sql.partition(" VALUES (")
    if not found or not head.startswith("INSERT INTO "):
        raise ValueError("after a conditional first step, every step must be INSERT ... VALUES")
    depth = 1
    for end, char in enumerate(tail):  # the closing parenthesis of the one VALUES row
        depth += (char == "(") - (char == ")")
        if depth == 0:
            rest = tail[end + 1 :]
            return f"{head} SELECT {tail[:end]} WHERE EXISTS (SELECT 1 FROM s0){rest}"  # noqa: S608
    raise ValueError("unbalanced VALUES clause")


class _Autocommit:
    """PostgreSQL connections kept in autocommit between hot statements, per engine.

    Checking a connection out of the pool, switching it to autocommit and back, and checking
    it in costs more Python than the statement itself (~55 µs of ~95 µs for a one-row read).
    So a connection used for an autocommit statement is kept here afterwards, still checked
    out of the pool and still in autocommit, for the next one. At most one per thread that
    runs such statements at once (the server's threads); each goes back to the pool (out of
    autocommit) after ``MAX_AGE`` seconds, so the pool's recycling still applies, when the
    engine is disposed, and never after a connection error (it is invalidated instead).
    """

    MAX_AGE = 300.0

    def __init__(self, engine: Any) -> None:
        self._idle: deque[tuple[Any, float]] = deque()
        # Disposed (its pool is already gone, so checking in would not close them) or
        # garbage-collected (at the latest, at exit): close what is kept here.
        event.listen(engine, "engine_disposed", lambda _engine: _close_idle(self._idle))
        weakref.finalize(engine, _close_idle, self._idle)

    def take(self, engine: Any) -> Any:
        while True:
            try:
                connection, since = self._idle.pop()  # most recent first: keeps few warm
            except IndexError:
                break
            if time.monotonic() - since <= self.MAX_AGE and connection.is_valid:
                return connection
            _release(connection, True, engine.dialect.loaded_dbapi)
        connection = engine.raw_connection()
        try:
            connection.driver_connection.autocommit = True
        except BaseException:
            connection.invalidate()  # never back to the pool half-configured
            raise
        connection.info["fastsql.since"] = time.monotonic()
        return connection

    def keep(self, connection: Any) -> None:
        self._idle.append((connection, connection.info["fastsql.since"]))


def _close_idle(idle: deque[tuple[Any, float]]) -> None:
    while True:
        try:
            connection, _ = idle.pop()
        except IndexError:
            return
        connection.invalidate()  # closes the driver's connection; the record is spent


_AUTOCOMMIT: weakref.WeakKeyDictionary[Any, _Autocommit] = weakref.WeakKeyDictionary()
_AUTOCOMMIT_LOCK = threading.Lock()


def _autocommit_for(engine: Any) -> _Autocommit:
    found = _AUTOCOMMIT.get(engine)
    if found is None:
        with _AUTOCOMMIT_LOCK:
            found = _AUTOCOMMIT.get(engine)
            if found is None:
                found = _AUTOCOMMIT[engine] = _Autocommit(engine)
    return found


@contextmanager
def _driver(dialect: Dialect, *, autocommit: bool, sql: str) -> Iterator[Any]:
    """A pooled connection (on PostgreSQL in ``autocommit`` for the block if asked)."""
    dbapi = dialect.loaded_dbapi
    postgres = dialect.name == "postgresql"
    kept = _autocommit_for(db.engine) if postgres and autocommit else None
    connection: Any = None
    try:
        connection = kept.take(db.engine) if kept is not None else db.engine.raw_connection()
        yield connection
    except dbapi.Error as error:
        if connection is not None:
            if isinstance(error, (dbapi.OperationalError, dbapi.InterfaceError)):
                connection.invalidate(error)  # never back to the pool
            elif postgres:
                _rollback(connection, dbapi)
        raise exc.DBAPIError.instance(
            sql, None, error, dbapi.Error, hide_parameters=True, dialect=dialect
        ) from error
    finally:
        if connection is not None:
            if kept is not None and connection.is_valid:
                kept.keep(connection)
            else:
                _release(connection, postgres, dbapi)


def _rollback(connection: Any, dbapi: Any) -> None:
    try:
        connection.driver_connection.rollback()
    except dbapi.Error as error:
        connection.invalidate(error)


def _release(connection: Any, postgres: bool, dbapi: Any) -> None:
    """Back to the pool as it came out: the pool's other users expect transactions."""
    if postgres and connection.is_valid and connection.driver_connection.autocommit:
        try:
            connection.driver_connection.autocommit = False
        except dbapi.Error as error:
            connection.invalidate(error)
    connection.close()


def usable() -> bool:
    """Whether statements run on the driver now: not inside the session's open transaction.

    Asks the scoped registry first: a request that never touched the ORM has no session, and
    calling ``db.session()`` would build one only to tear it down again.
    """
    return not (db.session.registry.has() and db.session().in_transaction())
