"""Tenant scoping: every object a console page touches belongs to the signed-in customer.

Anything else answers 404, exactly like an id that does not exist.
"""

from __future__ import annotations

from typing import NoReturn

from flask import abort
from flask_login import current_user

from .. import registry
from ..extensions import db
from ..models import Bot, Client, ConsoleUser, Session


def customer_id() -> str:
    return str(current_user.customer_id)


def _missing() -> NoReturn:
    abort(404)


def owned_client(client_id: str) -> Client:
    try:
        return registry.get_client(client_id, customer_id=customer_id())
    except registry.RegistryError:
        _missing()


def owned_bot(bot_id: str) -> Bot:
    try:
        return registry.get_bot(bot_id, customer_id=customer_id())
    except registry.RegistryError:
        _missing()


def owned_session(session_id: str) -> Session:
    session = db.session.get(Session, session_id)
    if session is None or session.customer_id != customer_id():
        _missing()
    return session


def owned_console_user(user_id: str) -> ConsoleUser:
    user = db.session.get(ConsoleUser, user_id)
    if user is None or user.customer_id != customer_id():
        _missing()
    return user
