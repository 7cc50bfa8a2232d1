"""Both ephemeral-store backends fit one interface and make each racing step atomic."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask

from authserver.ephemeral import EphemeralStore, RedisEphemeralStore, SqlEphemeralStore
from tests.conftest import LiveServer, Tenant


@pytest.fixture
def store(live_server: LiveServer) -> Iterator[tuple[Flask, EphemeralStore]]:
    app = live_server.app
    with app.app_context():
        yield app, app.extensions["chatframe"].store


def test_backend_matches_configuration(live_server: LiveServer) -> None:
    store = live_server.app.extensions["chatframe"].store
    expected = RedisEphemeralStore if live_server.settings.redis_url else SqlEphemeralStore
    assert isinstance(store, expected)


def test_put_get_and_expiry(store: tuple[Flask, EphemeralStore]) -> None:
    _, s = store
    key = secrets.token_hex(8)
    s.put("test", key, {"a": 1}, ttl=0.5)
    assert s.get("test", key) == {"a": 1}
    time.sleep(0.7)
    assert s.get("test", key) is None


def test_consume_is_single_use_and_leaves_a_tombstone(store: tuple[Flask, EphemeralStore]) -> None:
    _, s = store
    key = secrets.token_hex(8)
    s.put("test", key, {"v": 1}, ttl=30)
    first = s.consume("test", key, tombstone={"sid": "ses_1"}, tombstone_ttl=30)
    assert first.value == {"v": 1} and first.tombstone is None
    second = s.consume("test", key, tombstone={"sid": "ses_2"}, tombstone_ttl=30)
    assert second.value is None and second.tombstone == {"sid": "ses_1"}
    never = s.consume("test", "missing-" + key, tombstone={"sid": "x"}, tombstone_ttl=30)
    assert never.value is None and never.tombstone is None


def test_consume_can_remember_a_key_in_the_same_step(store: tuple[Flask, EphemeralStore]) -> None:
    """A redemption spends its code and records its proof's jti in one step: the key is
    recorded whether or not there was a value, and a second time it reads as a replay."""
    _, s = store
    key, jti = secrets.token_hex(8), secrets.token_hex(8)
    s.put("test", key, {"v": 1}, ttl=30)
    first = s.consume(
        "test", key, tombstone={"sid": "a"}, tombstone_ttl=30, remember=("j", jti, 30)
    )
    assert first.value == {"v": 1} and first.remembered is True
    again = s.consume(
        "test", key, tombstone={"sid": "b"}, tombstone_ttl=30, remember=("j", jti, 30)
    )
    assert again.value is None and again.tombstone == {"sid": "a"} and again.remembered is False
    assert s.remember("j", jti, ttl=30) is False  # the same record remember() keeps
    other = secrets.token_hex(8)
    never = s.consume("test", "missing-" + key, {}, 30, remember=("j", other, 30))
    assert never.value is None and never.remembered is True
    assert s.remember("j", other, ttl=30) is False
    plain = s.consume("test", "missing-" + key, tombstone={}, tombstone_ttl=30)
    assert plain.remembered is None


def test_expired_entry_cannot_be_consumed(store: tuple[Flask, EphemeralStore]) -> None:
    _, s = store
    key = secrets.token_hex(8)
    s.put("test", key, {"v": 1}, ttl=0.3)
    time.sleep(0.5)
    assert s.consume("test", key, tombstone={}, tombstone_ttl=30).value is None


def test_concurrent_consumers_get_exactly_one_value(store: tuple[Flask, EphemeralStore]) -> None:
    app, s = store
    key = secrets.token_hex(8)
    s.put("test", key, {"v": 1}, ttl=30)

    def take(i: int) -> bool:
        with app.app_context():
            return s.consume("test", key, tombstone={"i": i}, tombstone_ttl=30).value is not None

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(take, range(32)))
    assert results.count(True) == 1


def test_remember_detects_replays(store: tuple[Flask, EphemeralStore]) -> None:
    app, s = store
    key = secrets.token_hex(8)

    def remember(_: int) -> bool:
        with app.app_context():
            return s.remember("jti", key, ttl=30)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(remember, range(32)))
    assert results.count(True) == 1
    short = secrets.token_hex(8)
    assert s.remember("jti", short, ttl=0.3) is True
    time.sleep(0.5)
    assert s.remember("jti", short, ttl=30) is True  # forgotten after its ttl


def test_hit_counts_every_concurrent_request(store: tuple[Flask, EphemeralStore]) -> None:
    app, s = store
    key = secrets.token_hex(8)

    def hit(_: int) -> int:
        with app.app_context():
            return s.hit("rate", key, window=3600)[0]

    with ThreadPoolExecutor(max_workers=16) as pool:
        counts = sorted(pool.map(hit, range(40)))
    assert counts == list(range(1, 41))
    count, retry_after = s.hit("rate", key, window=3600)
    assert count == 41 and 1 <= retry_after <= 3600


def test_both_backends_fit_the_interface(live_server: LiveServer) -> None:
    assert isinstance(live_server.app.extensions["chatframe"].store, EphemeralStore)


def test_sql_store_sweeps_expired_rows(tmp_path: Path) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import select

    from authserver import create_app
    from authserver.config import Settings
    from authserver.extensions import db
    from authserver.models import EphemeralEntry

    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path}/e.db", keys_dir=tmp_path / "k"),
        ensure_keys=False,
    )
    with app.app_context():
        upgrade()
        store = app.extensions["chatframe"].store
        assert isinstance(store, SqlEphemeralStore)
        store.put("sweep", "a", {}, ttl=0.1)
        time.sleep(0.2)
        assert store.count("sweep") == 0  # expired: invisible at once...
        store._last_purge = 0.0
        store.put("sweep", "b", {}, ttl=60)  # ...and deleted by the next sweep
        kept = (
            db.session.execute(select(EphemeralEntry.key).where(EphemeralEntry.kind == "sweep"))
            .scalars()
            .all()
        )
        assert kept == ["b"]


def _event_and_a_failing_write() -> tuple[object, object, object]:
    """An event, and a refresh token for a session that does not exist (a foreign-key error)."""
    from authserver import events
    from authserver.events import EventType
    from authserver.security import Hasher
    from authserver.sessions import refresh_token_written_with

    event = events.written_with(EventType.CODE_ISSUED, detail_probe=secrets.token_hex(4))
    _token, failing = refresh_token_written_with("ses_does_not_exist", Hasher("k"))
    return event, failing, event[1]["id"]


@pytest.mark.parametrize("store_kind", ["sql", "configured"])
def test_put_with_commits_the_entry_and_the_writes(
    live_server: LiveServer, store_kind: str
) -> None:
    """The SQL store on either database (PostgreSQL writes it as one statement), and the
    store this server is configured with (Redis on the PostgreSQL setup)."""
    from sqlalchemy.exc import IntegrityError

    from authserver.extensions import db
    from authserver.models import SecurityEvent

    with live_server.app.app_context():
        s = (
            SqlEphemeralStore()
            if store_kind == "sql"
            else live_server.app.extensions["chatframe"].store
        )
        key = secrets.token_hex(8)
        event, failing, event_id = _event_and_a_failing_write()
        s.put_with("test", key, {"v": 1}, ttl=30, writes=[event])
        assert s.get("test", key) == {"v": 1}
        assert db.session.get(SecurityEvent, event_id) is not None
        db.session.remove()

        key = secrets.token_hex(8)
        event, failing, event_id = _event_and_a_failing_write()
        with pytest.raises(IntegrityError):
            s.put_with("test", key, {"v": 2}, ttl=30, writes=[event, failing])
        assert db.session.get(SecurityEvent, event_id) is None  # the writes: none of them
        if isinstance(s, SqlEphemeralStore):
            assert s.get("test", key) is None  # one transaction: the entry went with them
        db.session.remove()


@pytest.mark.parametrize("store_kind", ["sql", "configured"])
def test_put_with_a_first_write_that_skips_writes_nothing_after_it(
    tenant: Tenant, store_kind: str
) -> None:
    """A first-seen user goes in with the code's event, or (when the user was created in
    between, so the insert skips) neither does: the event would name the wrong id."""
    from authserver.access import new_partner_user
    from authserver.extensions import db
    from authserver.models import PartnerUser, SecurityEvent

    app = tenant.server.app
    with app.app_context():
        s = SqlEphemeralStore() if store_kind == "sql" else app.extensions["chatframe"].store
        user = "first-" + secrets.token_hex(4)
        key = secrets.token_hex(8)
        fresh, insert_user = new_partner_user(tenant.customer_id, user)
        event, _failing, event_id = _event_and_a_failing_write()
        assert s.put_with("test", key, {"v": 1}, ttl=30, writes=[event], first=insert_user)
        assert s.get("test", key) == {"v": 1}
        assert db.session.get(PartnerUser, fresh).partner_user_id == user
        assert db.session.get(SecurityEvent, event_id) is not None
        db.session.remove()

        # The same user again: the insert skips the conflict, and nothing else is written.
        key = secrets.token_hex(8)
        again, insert_again = new_partner_user(tenant.customer_id, user)
        event, _failing, event_id = _event_and_a_failing_write()
        assert not s.put_with("test", key, {"v": 2}, ttl=30, writes=[event], first=insert_again)
        assert db.session.get(PartnerUser, again) is None
        assert db.session.get(SecurityEvent, event_id) is None
        if isinstance(s, SqlEphemeralStore):
            assert s.get("test", key) is None  # one transaction: no entry either
        db.session.remove()
