"""Flask extensions, created unbound and bound to the app in the factory."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


# Objects stay usable after a commit: the ephemeral store commits its atomic steps mid-request.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()

# SQLite: every transaction takes the write lock up front (BEGIN IMMEDIATE, see create_app),
# except pure reads run under ``reads_only()``, which take no lock and do not wait for writers.
sqlite_deferred: ContextVar[bool] = ContextVar("sqlite_deferred", default=False)


@contextmanager
def reads_only() -> Iterator[None]:
    """Run statements that only read, outside any lock or transaction round trip.

    SQLite: a deferred transaction, which takes no write lock. PostgreSQL: an autocommit
    connection, so a read costs one round trip instead of three (BEGIN, SELECT, ROLLBACK).
    The transaction is ended on the way out, so a later write starts a new one of its own
    (on SQLite, one that takes the lock first; on PostgreSQL, a real transaction again).
    Inside an open transaction the reads simply join it.
    """
    if db.session().in_transaction():
        yield
        return
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    token = sqlite_deferred.set(True)
    try:
        if not sqlite:
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield
    finally:
        sqlite_deferred.reset(token)
        db.session.commit()
