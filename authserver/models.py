"""The durable data model: customers, clients, bots, partner users, sessions, keys, events."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import Base
from .security import new_id


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Store naive UTC, return aware UTC, so SQLite and PostgreSQL compare the same way."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cus"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Client(Base):
    """An OAuth client of a customer, usable confidentially (backend) and publicly (iframe)."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cf"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    ip_allowlist: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Native app WebViews (/embed/{client_id}/native): off by default; the fragment fallback
    # (a code in the URL fragment, not bound to the page's keys) is weaker and needs both.
    native_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    native_fragment: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship()

    @property
    def allows_native_fragment(self) -> bool:
        """Whether the native page may take a code from its URL fragment (the weaker mode)."""
        return bool(self.native_enabled and self.native_fragment)


class Bot(Base):
    __tablename__ = "bots"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("bot"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    greeting: Mapped[str] = mapped_column(Text, default="Hi! How can I help?")
    fallback: Mapped[str] = mapped_column(
        Text, default="Sorry, I don't know that one yet. Could you rephrase it?"
    )
    access: Mapped[str] = mapped_column(String(16), default="members")
    require_mfa: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    appearance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    faq: Mapped[list[FaqEntry]] = relationship(
        order_by="FaqEntry.position", cascade="all, delete-orphan"
    )


class FaqEntry(Base):
    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)


class PartnerUser(Base):
    """A customer's own user; ``id`` is the pairwise ``sub`` we put in tokens."""

    __tablename__ = "partner_users"
    __table_args__ = (UniqueConstraint("customer_id", "partner_user_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("usr"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    partner_user_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("bot_id", "partner_user_pk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    partner_user_pk: Mapped[str] = mapped_column(
        ForeignKey("partner_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    partner_user: Mapped[PartnerUser] = relationship()


class Session(Base):
    """One authenticated iframe instance, created by a code redemption; at most 12 h long."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ses"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    partner_user_pk: Mapped[str] = mapped_column(ForeignKey("partner_users.id"), index=True)
    bots: Mapped[list[str]] = mapped_column(JSON)
    scope: Mapped[str] = mapped_column(String(2000))
    origin: Mapped[str] = mapped_column(String(300))
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    nonce: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))

    partner_user: Mapped[PartnerUser] = relationship()

    def is_active(self, now: dt.datetime | None = None) -> bool:
        return session_is_live(self.revoked_at, self.expires_at, now)


def session_is_live(
    revoked_at: dt.datetime | None, expires_at: dt.datetime, now: dt.datetime | None = None
) -> bool:
    """A session is live until it is revoked or reaches its end (at most 12 h)."""
    return revoked_at is None and (now or utcnow()) < expires_at


class RefreshToken(Base):
    """A rotating refresh token; only its keyed hash is stored."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    session: Mapped[Session] = relationship()


class SigningKey(Base):
    """Metadata of an ES256 signing key; the private key itself lives in ``keys/<kid>.pem``."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # next | active | retired
    alg: Mapped[str] = mapped_column(String(16), default="ES256")
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ConsoleUser(Base):
    """A person of a customer who signs in to the console (Flask-Login)."""

    __tablename__ = "console_users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cu"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(255))  # encrypted at rest
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship()

    # -- Flask-Login -------------------------------------------------------------------------
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.id


class SecurityEvent(Base):
    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_customer_time", "customer_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("evt"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(40))
    client_id: Mapped[str | None] = mapped_column(String(40))
    partner_user_sub: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "customer_id": self.customer_id,
            "client_id": self.client_id,
            "partner_user": self.partner_user_sub,
            "ip": self.ip,
            "detail": json.loads(json.dumps(self.detail or {})),
        }


class EphemeralEntry(Base):
    """Rows of the SQL ephemeral store: one-time codes, replay caches, rate-limit counters."""

    __tablename__ = "ephemeral_entries"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    counter: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(index=True)
