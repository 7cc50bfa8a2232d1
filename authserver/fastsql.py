"""Hot-path statements, compiled once and run straight on the database driver.

The chat API's token check and the token endpoint's access reads are single statements that
run on every page load and every message. Through the ORM session each costs ~1-2 ms of Python
(compile-cache lookups, result metadata, autobegin, commit) around a ~0.1 ms round trip. Here a
Core statement is compiled once per dialect; a call checks a connection out of the engine's
own pool (same settings, timeouts and outage handling), runs the SQL on a DBAPI cursor in
autocommit (one round trip on PostgreSQL: no ``BEGIN``/``ROLLBACK``), and converts each column
with the type's own result processor, so values are what the ORM would have returned.

Only used outside an open ORM transaction (``in_transaction()`` callers fall back to the
session, so a read inside a transaction still sees that transaction's writes). Driver errors
are raised as SQLAlchemy's ``DBAPIError`` subclasses, so ``outages`` answers 503 as it does
for every other statement.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql import ClauseElement

from .extensions import db

# Statements run here (the bench's per-request counts read it; the engine's events do not see them).
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
    """One Core statement, compiled once per dialect, run on a raw autocommit cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is not None:
            return found
        compiled: Any = self.statement.compile(dialect=dialect)
        binders = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binders[name] = processor
        row = None
        processors: list[Callable[[Any], Any] | None] = []
        columns = list(getattr(self.statement, "selected_columns", ()))
        returning = getattr(compiled, "returning", None) or ()
        for column in columns or returning:
            processors.append(column.type.dialect_impl(dialect).result_processor(dialect, None))
        if columns or returning:
            row = namedtuple("Row", [c.key for c in (columns or returning)])  # type: ignore[misc,no-redef]
        found = _Compiled(
            sql=compiled.string,
            positions=list(compiled.positiontup) if compiled.positional else None,
            defaults={k: v for k, v in compiled.params.items() if v is not None},
            binders=binders,
            row=row,
            processors=processors,
        )
        self._by_dialect[dialect.name] = found
        return found

    def _run(self, params: Mapping[str, Any], fetch: bool) -> list[Any]:
        engine: Engine = db.engine
        dialect = engine.dialect
        compiled = self._compiled(dialect)
        values = {**compiled.defaults, **params}
        for name, binder in compiled.binders.items():
            if name in values:
                values[name] = binder(values[name])
        args: Any = values
        if compiled.positions is not None:
            args = [values[name] for name in compiled.positions]
        global executed
        executed += 1
        dbapi = dialect.loaded_dbapi
        postgres = dialect.name == "postgresql"
        connection: Any = None
        try:
            connection = engine.raw_connection()
            driver = connection.driver_connection
            if postgres:
                driver.autocommit = True
            cursor = connection.cursor()
            try:
                cursor.execute(compiled.sql, args)
                raw = cursor.fetchall() if fetch else []
            finally:
                cursor.close()
            if not postgres and driver.in_transaction:
                connection.commit()  # pysqlite opened one for a write: end it here
        except dbapi.Error as error:
            if connection is not None and isinstance(
                error, (dbapi.OperationalError, dbapi.InterfaceError)
            ):
                connection.invalidate(error)  # a broken connection never goes back to the pool
            raise exc.DBAPIError.instance(
                compiled.sql, args, error, dbapi.Error, hide_parameters=True, dialect=dialect
            ) from error
        finally:
            if connection is not None:
                _release(connection, postgres, dbapi)
        row, processors = compiled.row, compiled.processors
        return [
            row(*[p(v) if p else v for p, v in zip(processors, values_, strict=True)])
            for values_ in raw
        ]

    def all(self, **params: Any) -> list[Any]:
        """Every row, as named tuples (``row.column``)."""
        return self._run(params, fetch=True)

    def first(self, **params: Any) -> Any:
        """The first row, or None."""
        rows = self._run(params, fetch=True)
        return rows[0] if rows else None

    def execute(self, **params: Any) -> None:
        """Run a statement that returns nothing (an INSERT, UPDATE or DELETE), committed."""
        self._run(params, fetch=False)


def _release(connection: Any, postgres: bool, dbapi: Any) -> None:
    """Back to the pool as it came out: the pool's other users expect transactions."""
    if postgres and connection.is_valid and connection.driver_connection.autocommit:
        try:
            connection.driver_connection.autocommit = False
        except dbapi.Error as error:
            connection.invalidate(error)
    connection.close()


def usable() -> bool:
    """Whether a fast statement may run now: not inside the session's open transaction."""
    return not db.session().in_transaction()
