"""Create and change customers, console users, clients, bots, FAQ entries and members.

Shared by the CLI, the console and the management API so every path applies the same
validation and writes the same security events.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from . import events
from .access import find_partner_user, get_or_create_partner_user
from .events import EventType
from .extensions import db
from .models import (
    Bot,
    Client,
    ConsoleUser,
    Customer,
    FaqEntry,
    Membership,
    PartnerUser,
    utcnow,
)
from .security import hash_password, new_secret
from .services import services
from .validation import normalize_cidr, normalize_origin

ACCESS_VALUES = ("members", "all_users")
APPEARANCE_COLOURS = ("accent", "background")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


class RegistryError(ValueError):
    """A value a customer gave cannot be used; the message says how to fix it."""


def create_customer(name: str) -> Customer:
    customer = Customer(name=_customer_name(name))
    db.session.add(customer)
    db.session.commit()
    return customer


def _customer_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise RegistryError("A customer name must be 1 to 200 characters.")
    return name


def get_customer(customer_id: str) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise RegistryError(f"No customer {customer_id}.")
    return customer


def normalize_email(email: str) -> str:
    """The form we store and look emails up by: trimmed and lower-case."""
    return email.strip().lower()


def check_new_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise RegistryError(
            f"A password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters "
            "(a few unrelated words make a strong one)."
        )


def create_console_user(customer: Customer, email: str, password: str) -> ConsoleUser:
    """Give a person of ``customer`` a console account (the password is stored scrypt-hashed)."""
    user = _new_console_user(customer, email, password)
    _commit_console_user(user)
    return user


def sign_up(company: str, email: str, password: str) -> ConsoleUser:
    """Create a customer and its first console user together, or neither."""
    customer = Customer(name=_customer_name(company))
    user = _new_console_user(customer, email, password)
    db.session.add(customer)
    _commit_console_user(user)
    return user


def _new_console_user(customer: Customer, email: str, password: str) -> ConsoleUser:
    email = normalize_email(email)
    if len(email) > 320 or not _EMAIL.fullmatch(email):
        raise RegistryError(f"{email!r} is not an email address (e.g. ana@example.com).")
    check_new_password(password)
    if find_console_user(email) is not None:
        raise RegistryError(f"{email} already has a console account; sign in instead.")
    return ConsoleUser(customer=customer, email=email, password_hash=hash_password(password))


def _commit_console_user(user: ConsoleUser) -> None:
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError as exc:  # a concurrent sign-up with the same email won the race
        db.session.rollback()
        raise RegistryError(
            f"{user.email} already has a console account; sign in instead."
        ) from exc


def find_console_user(email: str) -> ConsoleUser | None:
    return db.session.execute(
        select(ConsoleUser).where(ConsoleUser.email == normalize_email(email))
    ).scalar_one_or_none()


def console_users(customer_id: str) -> list[ConsoleUser]:
    return list(
        db.session.execute(
            select(ConsoleUser)
            .where(ConsoleUser.customer_id == customer_id)
            .order_by(ConsoleUser.created_at, ConsoleUser.id)
        ).scalars()
    )


def remove_console_user(user: ConsoleUser) -> None:
    """Delete a console account; its signed-in sessions end with it."""
    if len(console_users(user.customer_id)) <= 1:
        raise RegistryError("A customer keeps at least one console user.")
    db.session.delete(user)
    db.session.commit()


def clean_origins(origins: Iterable[str]) -> list[str]:
    production = services().settings.production
    try:
        cleaned = [normalize_origin(o, production=production) for o in origins]
    except ValueError as exc:
        raise RegistryError(str(exc)) from exc
    native_origin = services().settings.native_origin
    if native_origin in cleaned:
        # Codes for Chatframe's own origin are native app codes (see Client.native_enabled).
        raise RegistryError(
            f"{native_origin} is Chatframe's own origin, not a page of yours: to show the chat "
            "in a mobile app, turn on native app embedding instead."
        )
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
    )  # commits
    services().clients.invalidate(client.id)
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
    services().clients.invalidate(client.id)


def update_client(
    client: Client,
    *,
    origins: Iterable[str] | None = None,
    ip_allowlist: Iterable[str] | None = None,
    enabled: bool | None = None,
    native_enabled: bool | None = None,
    native_fragment: bool | None = None,
) -> Client:
    """Change what is given; ``native_fragment`` needs native embedding (turning that off
    turns the fragment fallback off too)."""
    if origins is not None:
        cleaned = clean_origins(origins)
        if not cleaned:
            raise RegistryError("A client needs at least one allowed origin.")
        client.allowed_origins = cleaned
    if ip_allowlist is not None:
        client.ip_allowlist = clean_cidrs(ip_allowlist)
    if enabled is not None:
        client.enabled = enabled
    if native_enabled is not None:
        client.native_enabled = native_enabled
    if native_fragment is not None:
        client.native_fragment = native_fragment
    if not client.native_enabled:
        if native_fragment:
            raise RegistryError(
                "The native fragment fallback needs native app embedding: enable both."
            )
        client.native_fragment = False
    db.session.commit()
    services().clients.invalidate(client.id)
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


def delete_bot(bot: Bot) -> None:
    """Delete a bot with its FAQ, members and conversations; its sessions lose it at once."""
    db.session.delete(bot)
    db.session.commit()


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
        elif key == "appearance":
            bot.appearance = _appearance(bot.appearance or {}, value)
        else:
            raise RegistryError(f"Unknown bot field {key!r}.")


def _appearance(current: dict[str, Any], changes: Any) -> dict[str, Any]:
    """Merge colour changes into a bot's appearance; a null colour goes back to the default."""
    if not isinstance(changes, dict):
        raise RegistryError('appearance must be an object such as {"accent": "#2563eb"}.')
    merged = dict(current)
    for name, colour in changes.items():
        if name not in APPEARANCE_COLOURS:
            raise RegistryError(
                f"Unknown appearance field {name!r}; use {', '.join(APPEARANCE_COLOURS)}."
            )
        if colour is None:
            merged.pop(name, None)
        elif isinstance(colour, str) and _HEX_COLOUR.fullmatch(colour):
            merged[name] = colour.lower()
        else:
            raise RegistryError(f"{name} must be a hex colour such as #2563eb, not {colour!r}.")
    return merged


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


def update_faq_entry(bot: Bot, position: int, question: str, answer: str) -> FaqEntry:
    entry = _faq_at(bot, position)
    entry.question, entry.answer = _faq_entry({"question": question, "answer": answer})
    db.session.commit()
    return entry


def remove_faq_entry(bot: Bot, position: int) -> None:
    bot.faq.remove(_faq_at(bot, position))
    for index, entry in enumerate(bot.faq):
        entry.position = index
    db.session.commit()


def _faq_at(bot: Bot, position: int) -> FaqEntry:
    if not 0 <= position < len(bot.faq):
        raise RegistryError(f"{bot.id} has no FAQ entry number {position + 1}.")
    return bot.faq[position]


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
    try:
        with db.session.begin_nested():
            db.session.add(Membership(bot_id=bot.id, partner_user_pk=user.id))
    except IntegrityError:  # a concurrent request made the same membership first
        db.session.commit()
        return False
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


def memberships(bot: Bot, search: str | None = None) -> Select[Membership]:
    """The bot's memberships with their partner users, optionally those whose id contains
    ``search`` (unordered; order by ``PartnerUser.partner_user_id``)."""
    query = (
        select(Membership)
        .join(Membership.partner_user)
        .where(Membership.bot_id == bot.id)
        .options(contains_eager(Membership.partner_user))
    )
    if search:
        query = query.where(PartnerUser.partner_user_id.icontains(search, autoescape=True))
    return query
