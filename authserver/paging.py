"""Cursor paging over SQL queries: an opaque cursor continues right after the last row seen."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from . import strictjson
from .extensions import db
from .models import UTCDateTime

T = TypeVar("T")
MAX_LIMIT = 100


class CursorError(ValueError):
    """A cursor or page size that this listing cannot use."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None


def paginate(
    query: Select[T],
    order: Sequence[InstrumentedAttribute[Any]],
    *,
    cursor: str | None,
    limit: int,
    newest_first: bool = False,
    key: Callable[[T], Sequence[Any]] | None = None,
) -> Page[T]:
    """Run ``query`` ordered by the unique key ``order``, one page after ``cursor``.

    Keyset paging: the cursor holds the last row's key, so rows added or removed meanwhile
    never shift a page. ``key`` reads that key from a row when it is not the row's own columns.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise CursorError(f"limit must be between 1 and {MAX_LIMIT}.")
    if cursor:
        query = query.where(_after(order, _decode(cursor, order), newest_first))
    query = query.order_by(*(c.desc() if newest_first else c.asc() for c in order))
    rows = list(db.session.execute(query.limit(limit + 1)).scalars())
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    values = key(last) if key else [getattr(last, c.key) for c in order]
    return Page(rows[:limit], _encode(values))


def _after(
    order: Sequence[InstrumentedAttribute[Any]], values: list[Any], newest_first: bool
) -> ColumnElement[bool]:
    column, value = order[0], values[0]
    beyond = column < value if newest_first else column > value
    if len(order) == 1:
        return beyond
    return or_(beyond, and_(column == value, _after(order[1:], values[1:], newest_first)))


def _encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).rstrip(b"=").decode()


def _decode(cursor: str, order: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = strictjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(values, list) or len(values) != len(order):
            raise ValueError("wrong shape")
        return [_value(c, v) for c, v in zip(order, values, strict=True)]
    except (ValueError, TypeError, UnicodeError, binascii.Error) as exc:
        raise CursorError(
            "That cursor is not one this listing gave out; start again without it."
        ) from exc


def _value(column: InstrumentedAttribute[Any], value: Any) -> Any:
    # Every key column is a string or a UTC time; anything else was not written by us.
    if not isinstance(value, str):
        raise ValueError("not a string")
    if isinstance(column.type, UTCDateTime):
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment
    return value
