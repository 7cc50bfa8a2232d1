"""The hot-path statements run straight on the driver answer exactly as the ORM would, and
leave the pool as they found it (both storage setups)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from authserver import events, fastsql
from authserver.access import _SESSION_WITH_BOT, session_with_bot, user_access
from authserver.events import EventType
from authserver.extensions import db
from authserver.models import PartnerUser, RefreshToken, SecurityEvent, Session
from authserver.oauth.client_auth import unverified_claims
from authserver.security import Hasher
from authserver.sessions import (
    find_refresh_token,
    refresh_token_written_with,
    rotate_refresh_token,
)
from tests.conftest import Tenant


def _open_session(tenant: Tenant) -> str:
    iframe = tenant.iframe()
    assert iframe.redeem(tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])).ok
    return str(unverified_claims(iframe.tokens["access_token"])["sid"])


def test_session_with_bot_reads_what_the_orm_reads(tenant: Tenant) -> None:
    sid = _open_session(tenant)
    bot = tenant.bots["welcome"]
    with tenant.server.app.app_context():
        assert fastsql.usable()
        fast = session_with_bot(sid, bot)
        orm = db.session.execute(_SESSION_WITH_BOT, {"session_id": sid, "bot_id": bot}).first()
        db.session.rollback()
        assert fast is not None and orm is not None
        assert fast._asdict() == orm._asdict()
        # Types survive the driver: aware datetimes, JSON lists and objects.
        assert isinstance(fast.expires_at, dt.datetime) and fast.expires_at.tzinfo is not None
        assert isinstance(fast.amr, list) and isinstance(fast.appearance, dict)
        # Another customer's bot reads as absent; an unknown session as nothing.
        assert session_with_bot(sid, "bot_unknown").bot_found is None
        assert session_with_bot("ses_unknown", bot) is None
        db.session.remove()


def test_user_access_fast_and_orm_agree(tenant: Tenant, other_tenant: Tenant) -> None:
    _open_session(tenant)
    bots = [tenant.bots["welcome"], tenant.bots["billing"], other_tenant.bots["welcome"]]
    with tenant.server.app.app_context():
        fast = user_access(tenant.customer_id, bots, [], partner_user_id="alice")
        with db.session.begin():  # inside a transaction the session's path runs
            assert not fastsql.usable()
            orm = user_access(tenant.customer_id, bots, [], partner_user_id="alice")
        db.session.remove()
    assert fast == orm
    assert fast[0] is not None
    assert fast[1][other_tenant.bots["welcome"]] == "unknown_bot"  # never another tenant's


def test_a_fast_read_leaves_its_connection_transactional(tenant: Tenant) -> None:
    """A connection back in the pool after a fast read still rolls back what it is told to."""
    sid = _open_session(tenant)
    with tenant.server.app.app_context():
        for _ in range(8):  # cycle through the pool's connections
            session_with_bot(sid, None)
        db.session.execute(
            Session.__table__.update().where(Session.id == sid).values(revoked_reason="probe")
        )
        db.session.rollback()
        reason = db.session.execute(select(Session.revoked_reason).where(Session.id == sid))
        assert reason.scalar_one() is None
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                assert not connection.connection.driver_connection.autocommit
                assert connection.execute(text("select 1")).scalar() == 1
        db.session.remove()


def test_a_transaction_writes_all_or_nothing(tenant: Tenant) -> None:
    """The redemption's writes go in together: one that fails takes the others with it."""
    with tenant.server.app.app_context():
        event_step = events.written_with(EventType.CODE_REDEEMED, customer_id=tenant.customer_id)
        _token, refresh_step = refresh_token_written_with("ses_does_not_exist", Hasher("k"))
        with pytest.raises(IntegrityError):  # the refresh token's session is not there
            fastsql.transaction([event_step, refresh_step])
        written = db.session.get(SecurityEvent, event_step[1]["id"])
        assert written is None
        db.session.remove()
        # And the same event alone is written, as the ORM would write it.
        event_step = events.written_with(EventType.CODE_REDEEMED, customer_id=tenant.customer_id)
        fastsql.transaction([event_step])
        row = db.session.get(SecurityEvent, event_step[1]["id"])
        assert row is not None and row.type == "code_redeemed"
        assert row.created_at.tzinfo is not None and row.detail == {}
        db.session.remove()


def test_a_refresh_token_rotates_once_and_a_lost_claim_writes_nothing(tenant: Tenant) -> None:
    iframe = tenant.iframe()
    assert iframe.redeem(tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])).ok
    with tenant.server.app.app_context():
        hasher = tenant.server.app.extensions["chatframe"].hasher
        row = find_refresh_token(iframe.tokens["refresh_token"], hasher)
        assert row is not None and row.rotated_at is None
        outcomes = []
        for _ in range(2):
            _token, successor = refresh_token_written_with(row.session.id, hasher)
            event = events.written_with(EventType.REFRESH_ROTATED, session_id=row.session.id)
            outcomes.append((rotate_refresh_token(row.id, successor, event), event[1]["id"]))
        assert [won for won, _ in outcomes] == [True, False]
        tokens = db.session.execute(
            select(RefreshToken).where(RefreshToken.session_id == row.session.id)
        ).scalars()
        assert sorted(t.rotated_at is None for t in tokens) == [False, True]  # one successor
        assert db.session.get(SecurityEvent, outcomes[0][1]) is not None
        assert db.session.get(SecurityEvent, outcomes[1][1]) is None  # the loser wrote nothing
        db.session.remove()


def test_a_refresh_reads_each_bots_access_with_the_token(tenant: Tenant) -> None:
    """The refresh token read also reads access (one query, the session's bots expanded from
    its JSON list) and decides exactly as ``user_access`` does: a bot disabled, a membership
    removed, an MFA bot without MFA, and a bot deleted since, each with its reason."""
    from authserver import registry

    bots = [tenant.bots["billing"], tenant.bots["welcome"], tenant.bots["support"]]
    with tenant.server.app.app_context():
        registry.add_member(registry.get_bot(tenant.bots["support"]), "alice")
        db.session.remove()
    iframe = tenant.session("alice", bots)
    with tenant.server.app.app_context():
        hasher = tenant.server.app.extensions["chatframe"].hasher
        row = find_refresh_token(iframe.tokens["refresh_token"], hasher)
        assert row is not None and row.denials == {}
        assert row.session.bots == bots and row.session.id == _sid(iframe)
        registry.remove_member(registry.get_bot(tenant.bots["billing"]), "alice")
        registry.update_bot(registry.get_bot(tenant.bots["welcome"]), require_mfa=True)
        registry.delete_bot(registry.get_bot(tenant.bots["support"]))
        db.session.remove()
        row = find_refresh_token(iframe.tokens["refresh_token"], hasher)
        assert row is not None
        expected = {
            tenant.bots["billing"]: "not_a_member",
            tenant.bots["welcome"]: "mfa_required",
            tenant.bots["support"]: "unknown_bot",
        }
        assert row.denials == expected
        by_user_access = user_access(
            tenant.customer_id, bots, [], partner_user_pk=row.session.partner_user_pk
        )[1]
        assert by_user_access == expected
        registry.update_bot(registry.get_bot(tenant.bots["welcome"]), enabled=False)
        db.session.remove()
        row = find_refresh_token(iframe.tokens["refresh_token"], hasher)
        assert row is not None and row.denials[tenant.bots["welcome"]] == "bot_disabled"
        db.session.remove()
    # Over HTTP: no bot is left for alice, so the refresh is refused.
    assert iframe.refresh().json()["error"] == "invalid_grant"


def _sid(iframe: Any) -> str:
    return str(unverified_claims(iframe.tokens["access_token"])["sid"])


def test_inside_an_open_transaction_the_writes_join_it(tenant: Tenant) -> None:
    """A first-seen user with a name is written through the ORM; the exchange's event then
    joins that transaction and commits both together (SQLite: no second writer waits on it)."""
    with tenant.server.app.app_context():
        user = PartnerUser(customer_id=tenant.customer_id, partner_user_id="joined", name="J")
        db.session.add(user)
        db.session.flush()
        assert not fastsql.usable()
        step = events.written_with(EventType.CODE_ISSUED, customer_id=tenant.customer_id)
        assert fastsql.transaction([step]) is True
        assert fastsql.usable()  # committed: the session's transaction has ended
        db.session.remove()
        assert db.session.get(PartnerUser, user.id) is not None
        assert db.session.get(SecurityEvent, step[1]["id"]) is not None
        db.session.remove()


def test_a_rotation_inside_an_open_transaction_joins_it(tenant: Tenant) -> None:
    """E.g. after a read that left the session's transaction open: the one-statement rotation
    (PostgreSQL: INSERT … SELECT from the claiming UPDATE) runs on the session's connection."""
    iframe = tenant.iframe()
    assert iframe.redeem(tenant.backend.code(iframe, "alice", [tenant.bots["welcome"]])).ok
    with tenant.server.app.app_context():
        hasher = tenant.server.app.extensions["chatframe"].hasher
        row = find_refresh_token(iframe.tokens["refresh_token"], hasher)
        assert row is not None
        db.session.execute(select(Session.id).where(Session.id == row.session.id))
        assert not fastsql.usable()
        _token, successor = refresh_token_written_with(row.session.id, hasher)
        event = events.written_with(EventType.REFRESH_ROTATED, session_id=row.session.id)
        assert rotate_refresh_token(row.id, successor, event)
        db.session.commit()
        db.session.remove()
        assert db.session.get(SecurityEvent, event[1]["id"]) is not None
        hashes = db.session.execute(
            select(RefreshToken.token_hash).where(RefreshToken.session_id == row.session.id)
        ).scalars()
        assert successor[1]["token_hash"] in set(hashes)
        db.session.remove()


# -- PostgreSQL: connections kept in autocommit between hot statements ------------------------


def _keeps_connections(tenant: Tenant) -> bool:
    """PostgreSQL keeps them; on SQLite every statement checks one out of the pool."""
    with tenant.server.app.app_context():
        if db.engine.dialect.name == "postgresql":
            return True
        session_with_bot("ses_unknown", None)
        assert db.engine not in fastsql._AUTOCOMMIT
        return False


def _kept_after_a_read(sid: str) -> Any:
    """(In an app context.) Read once, so a connection is kept; the kept connections."""
    assert session_with_bot(sid, None) is not None
    return fastsql._autocommit_for(db.engine)._idle


def test_a_kept_connection_sees_every_commit_at_once(tenant: Tenant) -> None:
    """Autocommit, never a stale snapshot: a revocation committed elsewhere is read at once."""
    sid = _open_session(tenant)
    with tenant.server.app.app_context():
        for _ in range(3):
            assert session_with_bot(sid, None).revoked_at is None
        with db.engine.begin() as connection:  # another connection, another transaction
            connection.execute(
                Session.__table__.update()
                .where(Session.id == sid)
                .values(revoked_at=dt.datetime.now(dt.UTC), revoked_reason="probe")
            )
        assert session_with_bot(sid, None).revoked_at is not None
        db.session.remove()


def test_a_connection_the_server_dropped_is_never_used_again(tenant: Tenant) -> None:
    if not _keeps_connections(tenant):
        return
    sid = _open_session(tenant)
    with tenant.server.app.app_context():
        kept = _kept_after_a_read(sid)
        pids = [connection.driver_connection.info.backend_pid for connection, _ in kept]
        assert pids
        with db.engine.connect() as admin:
            for pid in pids:
                admin.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
        failures = 0
        for _ in range(len(pids) + 1):
            try:
                assert session_with_bot(sid, None) is not None
                break
            except OperationalError:  # a request that finds its connection broken: a 503
                failures += 1
        else:
            pytest.fail("no statement succeeded after the server dropped the connections")
        # Each dropped connection fails one statement at most, and is never kept again.
        assert 1 <= failures <= len(pids)
        assert all(c.driver_connection.info.backend_pid not in pids for c, _ in kept)
        db.session.remove()


def test_disposing_the_engine_closes_the_kept_connections(tenant: Tenant) -> None:
    if not _keeps_connections(tenant):
        return
    sid = _open_session(tenant)
    with tenant.server.app.app_context():
        kept = _kept_after_a_read(sid)
        drivers = [connection.driver_connection for connection, _ in kept]
        assert drivers and not any(driver.closed for driver in drivers)
        db.engine.dispose()
        assert not kept and all(driver.closed for driver in drivers)
        assert session_with_bot(sid, None) is not None  # and the next statement still runs
        db.session.remove()


def test_a_kept_connection_goes_back_to_the_pool_when_old(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _keeps_connections(tenant):
        return
    sid = _open_session(tenant)
    with tenant.server.app.app_context():
        kept = _kept_after_a_read(sid)
        old = [connection.driver_connection for connection, _ in kept]
        monkeypatch.setattr(fastsql._Autocommit, "MAX_AGE", -1.0)
        assert session_with_bot(sid, None) is not None
        # Returned to the pool out of autocommit (the pool's recycling applies to it again).
        assert all(not driver.autocommit for driver in old)
        db.session.remove()


def test_sqlite_commits_reach_the_disk_before_the_answer(tenant: Tenant) -> None:
    """WAL with synchronous=FULL: what a request committed (a spent code, a rotated token)
    survives a power cut, so it can never be accepted again afterwards."""
    with tenant.server.app.app_context():
        if db.engine.dialect.name != "sqlite":
            return  # PostgreSQL's own durability settings are the operator's (fsync on)
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
