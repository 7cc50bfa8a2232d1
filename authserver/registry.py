"""Create and change customers, clients, bots, FAQ entries and members.

Shared by the CLI, the console and the management API so every path applies the same
validation and writes the same security events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from . import events
from .access import find_partner_user, get_or_create_partner_user
from .events import EventType
from .extensions import db
from .models import Bot, Client, Customer, FaqEntry, Membership, utcnow
from .security import new_secret
from .services import services
from .validation import normalize_cidr, normalize_origin

ACCESS_VALUES = ("members", "all_users")


class RegistryError(ValueError):
    """A value a customer gave cannot be used; the message says how to fix it."""


def create_customer(name: str) -> Customer:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise RegistryError("A customer name must be 1 to 200 characters.")
    customer = Customer(name=name)
    db.session.add(customer)
    db.session.commit()
    return customer


def get_customer(customer_id: str) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise RegistryError(f"No customer {customer_id}.")
    return customer


def clean_origins(origins: Iterable[str]) -> list[str]:
    production = services().settings.production
    try:
        cleaned = [normalize_origin(o, production=production) for o in origins]
    except ValueError as exc:
        raise RegistryError(str(exc)) from exc
    return list(dict.fromkeys(cleaned))


def clean_cidrs(cidrs: Iterable[str]) -> list[str]:
    try:
        return list(dict.fromkeys(normalize_cidr(c) for c in cidrs))
    except ValueError as exc:
        raise RegistryError(str(exc)) from exc


def create_client(
    customer: Customer, name: str, origins: Iterable[str], ip_allowlist: Iterable[str] = ()
) -> tuple[Client, str]:
    """Create a client; return it and its secret (the only plaintext copy there will be)."""
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise RegistryError("A client name must be 1 to 200 characters.")
    allowed = clean_origins(origins)
    if not allowed:
        raise RegistryError("A client needs at least one allowed origin.")
    secret = new_secret("cfs")
    client = Client(
        customer_id=customer.id,
        name=name,
        secret_hash=services().hasher.hash(secret),
        allowed_origins=allowed,
        ip_allowlist=clean_cidrs(ip_allowlist),
    )
    db.session.add(client)
    db.session.commit()
    return client, secret


def get_client(client_id: str, customer_id: str | None = None) -> Client:
    client = db.session.get(Client, client_id)
    if client is None or (customer_id is not None and client.customer_id != customer_id):
        raise RegistryError(f"No client {client_id}.")
    return client


def rotate_client_secret(client: Client, grace: int | None = None) -> str:
    """New secret; the old one keeps working for ``grace`` seconds. Returns the new secret."""
    grace = services().settings.client_secret_grace if grace is None else grace
    if not 0 <= grace <= 30 * 86400:
        raise RegistryError("The grace period must be between 0 and 2592000 seconds (30 days).")
    secret = new_secret("cfs")
    client.previous_secret_hash = client.secret_hash if grace else None
    client.previous_secret_expires_at = utcnow() + dt.timedelta(seconds=grace) if grace else None
    client.secret_hash = services().hasher.hash(secret)
    events.record(
        EventType.SECRET_ROTATED,
        customer_id=client.customer_id,
        client_id=client.id,
        grace_seconds=grace,
    )
    return secret


def set_client_jwks(client: Client, jwks: dict[str, Any] | None) -> None:
    """Register (or clear) the public keys the client signs ``private_key_jwt`` with."""
    if jwks is not None:
        try:
            keyset = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise RegistryError(f"That is not a usable JWKS: {exc}") from exc
        if any(key.is_private for key in keyset.keys):
            raise RegistryError("Register public keys only: that JWKS contains private keys.")
        jwks = dict(keyset.as_dict(private=False))
    client.jwks = jwks
    db.session.commit()


def update_client(
    client: Client,
    *,
    origins: Iterable[str] | None = None,
    ip_allowlist: Iterable[str] | None = None,
    enabled: bool | None = None,
) -> Client:
    if origins is not None:
        cleaned = clean_origins(origins)
        if not cleaned:
            raise RegistryError("A client needs at least one allowed origin.")
        client.allowed_origins = cleaned
    if ip_allowlist is not None:
        client.ip_allowlist = clean_cidrs(ip_allowlist)
    if enabled is not None:
        client.enabled = enabled
    db.session.commit()
    return client


def create_bot(customer: Customer, name: str, access: str = "members", **fields: Any) -> Bot:
    bot = Bot(customer_id=customer.id, name="", access="members")
    _apply_bot_fields(bot, {"name": name, "access": access, **fields})
    db.session.add(bot)
    db.session.commit()
    return bot


def get_bot(bot_id: str, customer_id: str | None = None) -> Bot:
    bot = db.session.get(Bot, bot_id)
    if bot is None or (customer_id is not None and bot.customer_id != customer_id):
        raise RegistryError(f"No bot {bot_id}.")
    return bot


def update_bot(bot: Bot, **fields: Any) -> Bot:
    _apply_bot_fields(bot, fields)
    db.session.commit()
    return bot


def _apply_bot_fields(bot: Bot, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if value is None:
            continue
        if key in ("name", "greeting", "fallback"):
            if not isinstance(value, str) or not value.strip():
                raise RegistryError(f"{key} must be a non-empty string.")
            limit = 200 if key == "name" else 2000
            if len(value) > limit:
                raise RegistryError(f"{key} must be at most {limit} characters.")
            setattr(bot, key, value.strip())
        elif key == "access":
            if value not in ACCESS_VALUES:
                raise RegistryError("access must be 'members' or 'all_users'.")
            bot.access = value
        elif key in ("require_mfa", "enabled"):
            if not isinstance(value, bool):
                raise RegistryError(f"{key} must be true or false.")
            setattr(bot, key, value)
        elif key == "faq":
            set_faq(bot, value, commit=False)
        else:
            raise RegistryError(f"Unknown bot field {key!r}.")


def set_faq(bot: Bot, entries: Any, *, commit: bool = True) -> None:
    """Replace the bot's FAQ with ``[{"question", "answer"}, ...]``."""
    if not isinstance(entries, list) or len(entries) > 500:
        raise RegistryError("faq must be a list of at most 500 {question, answer} objects.")
    cleaned = [_faq_entry(e) for e in entries]
    bot.faq.clear()
    for position, (question, answer) in enumerate(cleaned):
        bot.faq.append(FaqEntry(position=position, question=question, answer=answer))
    if commit:
        db.session.commit()


def add_faq(bot: Bot, question: str, answer: str) -> FaqEntry:
    q, a = _faq_entry({"question": question, "answer": answer})
    entry = FaqEntry(position=len(bot.faq), question=q, answer=a)
    bot.faq.append(entry)
    db.session.commit()
    return entry


def _faq_entry(entry: Any) -> tuple[str, str]:
    if not isinstance(entry, dict):
        raise RegistryError("Each FAQ entry must be an object with question and answer.")
    question, answer = entry.get("question"), entry.get("answer")
    if not isinstance(question, str) or not 1 <= len(question.strip()) <= 1000:
        raise RegistryError("An FAQ question must be 1 to 1000 characters.")
    if not isinstance(answer, str) or not 1 <= len(answer.strip()) <= 4000:
        raise RegistryError("An FAQ answer must be 1 to 4000 characters.")
    return question.strip(), answer.strip()


def add_member(bot: Bot, partner_user_id: str, *, ip: str | None = None) -> bool:
    """Make a partner user a member of ``bot``; False if already one."""
    from .oauth.grants.token_exchange import PARTNER_USER_ID

    if not PARTNER_USER_ID.match(partner_user_id):
        raise RegistryError("A partner user id is 1 to 255 printable characters, no spaces.")
    user = get_or_create_partner_user(bot.customer_id, partner_user_id)
    exists = db.session.execute(
        select(Membership).where(Membership.bot_id == bot.id, Membership.partner_user_pk == user.id)
    ).scalar_one_or_none()
    if exists:
        db.session.commit()
        return False
    db.session.add(Membership(bot_id=bot.id, partner_user_pk=user.id))
    events.record(
        EventType.MEMBER_ADDED,
        customer_id=bot.customer_id,
        partner_user=user.id,
        ip=ip,
        bot_id=bot.id,
    )
    return True


def remove_member(bot: Bot, partner_user_id: str, *, ip: str | None = None) -> bool:
    """Remove a membership; takes effect on the member's very next chat request."""
    user = find_partner_user(bot.customer_id, partner_user_id)
    if user is None:
        return False
    membership = db.session.execute(
        select(Membership).where(Membership.bot_id == bot.id, Membership.partner_user_pk == user.id)
    ).scalar_one_or_none()
    if membership is None:
        return False
    db.session.delete(membership)
    events.record(
        EventType.MEMBER_REMOVED,
        customer_id=bot.customer_id,
        partner_user=user.id,
        ip=ip,
        bot_id=bot.id,
    )
    return True


def members(bot: Bot) -> list[str]:
    rows = db.session.execute(select(Membership).where(Membership.bot_id == bot.id)).scalars()
    return sorted(m.partner_user.partner_user_id for m in rows)
