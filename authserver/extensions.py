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
    """Run statements that only read; on SQLite, without the write lock.

    The transaction they open is ended on the way out, so a later write starts a new one that
    takes the lock first (a deferred read that then writes could fail on a busy database).
    On PostgreSQL this changes nothing: no extra round trip.
    """
    if db.session.get_bind().dialect.name != "sqlite":
        yield
        return
    token = sqlite_deferred.set(True)
    try:
        yield
    finally:
        sqlite_deferred.reset(token)
        db.session.commit()
