"""The app's services, built once in the factory and reached through ``services()``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import redis
from flask import current_app

from .config import Settings
from .ephemeral import EphemeralStore
from .keys import KeyStore
from .models import Client, utcnow
from .security import Hasher


@dataclass
class ClientCredentials:
    """Checks client secrets, honouring the previous secret during a rotation grace."""

    hasher: Hasher

    def check_client_secret(
        self, client: Client, secret: str, now: dt.datetime | None = None
    ) -> bool:
        if self.hasher.matches(secret, client.secret_hash):
            return True
        expires = client.previous_secret_expires_at
        return bool(
            client.previous_secret_hash
            and expires is not None
            and (now or utcnow()) < expires
            and self.hasher.matches(secret, client.previous_secret_hash)
        )


@dataclass
class Services:
    settings: Settings
    hasher: Hasher
    store: EphemeralStore
    keys: KeyStore
    redis: redis.Redis | None = None  # the ephemeral store's client, for /readyz

    @property
    def credentials(self) -> ClientCredentials:
        return ClientCredentials(self.hasher)


def services() -> Services:
    """The current app's services."""
    return current_app.extensions["chatframe"]


def settings() -> Settings:
    return services().settings


def credentials() -> ClientCredentials:
    return services().credentials
