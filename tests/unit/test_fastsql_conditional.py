"""PostgreSQL's one-statement form of ``fastsql.transaction(only_if_first_writes=True)``:
every later step writes only when the first one did (the refresh's claim, a first-seen user)."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects.postgresql import psycopg

from authserver import events, fastsql
from authserver.access import new_partner_user
from authserver.ephemeral import _PUT
from authserver.events import EventType


def test_later_inserts_become_conditional_on_the_first_steps_row() -> None:
    dialect = psycopg.dialect()
    _fresh, user = new_partner_user("cus_1", "alice")
    event = events.written_with(EventType.CODE_ISSUED, customer_id="cus_1")
    entry = {"kind": "code", "key": "k", "value": "{}", "counter": None, "expires_at": 1.0}
    bound = [prepared.bound(dialect, params) for prepared, params in (user, (_PUT, entry), event)]
    sql, args = fastsql._conditional(bound)

    assert sql.startswith("WITH s0 AS (INSERT INTO partner_users ")
    assert "ON CONFLICT DO NOTHING RETURNING 1), s1 AS (" in sql
    assert sql.endswith("SELECT count(*) FROM s0")
    # Each later step selects its values only if s0 wrote a row, and keeps its own ON CONFLICT.
    assert sql.count("WHERE EXISTS (SELECT 1 FROM s0)") == 2
    assert " VALUES (" not in sql[sql.index("s1 AS (") :]  # only the first step inserts as sent
    put = sql[sql.index("s1 AS (") : sql.index("), s2 AS (")]
    assert put.index("WHERE EXISTS") < put.index("ON CONFLICT (kind, key) DO UPDATE")
    # Parameters are renamed per step, never merged or inlined.
    assert args["s0_partner_user_id"] == "alice" and args["s1_key"] == "k"
    assert args["s2_type"] == "code_issued" and "alice" not in sql


def test_steps_it_cannot_make_conditional_are_refused() -> None:
    with pytest.raises(ValueError, match="INSERT"):
        fastsql._only_if_s0("UPDATE sessions SET revoked_at = now()")
    with pytest.raises(ValueError, match="unbalanced"):
        fastsql._only_if_s0("INSERT INTO t (a) VALUES (%(a)s")
    dialect = psycopg.dialect()
    event = events.written_with(EventType.CODE_ISSUED)
    compiled, args = event[0].bound(dialect, event[1])
    returning_first = fastsql._Compiled(
        sql=compiled.sql + " RETURNING id",
        positions=None,
        defaults={},
        binders={},
        row=None,
        processors=[],
    )
    with pytest.raises(ValueError, match="RETURNING"):
        fastsql._conditional([(returning_first, args), (compiled, args)])


def test_each_shape_is_joined_once_and_values_never_join_it() -> None:
    dialect = psycopg.dialect()

    def bound(user: str, key: str) -> list[tuple[fastsql._Compiled, dict[str, object]]]:
        entry = {"kind": "code", "key": key, "value": "{}", "counter": None, "expires_at": 1.0}
        steps = (new_partner_user("cus_1", user)[1], (_PUT, entry))
        return [prepared.bound(dialect, params) for prepared, params in steps]

    first = fastsql._conditional(bound("alice", "k1"))
    again = fastsql._conditional(bound("x'); DROP TABLE t; --", "k2"))
    assert again[0] is first[0]  # the same statement text, built once for this shape
    assert again[1]["s0_partner_user_id"] == "x'); DROP TABLE t; --"
    assert again[1]["s1_key"] == "k2" and "DROP" not in again[0]
    plain = fastsql._one_statement(bound("bob", "k3"))
    assert plain[0].startswith("WITH s0 AS (INSERT INTO partner_users ")
    assert plain[1]["s0_partner_user_id"] == "bob" and plain[1]["s1_key"] == "k3"
