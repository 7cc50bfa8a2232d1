"""The app's services, built once in the factory and reached through ``services()``."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from .client_cache import ClientCache
from .config import Settings
from .ephemeral import EphemeralStore
from .keys import KeyStore
from .security import Hasher


@dataclass
class Services:
    """Settings and the long-lived helpers every request uses; one instance per app."""

    settings: Settings
    hasher: Hasher
    store: EphemeralStore
    keys: KeyStore
    clients: ClientCache
    redis: redis.Redis | None = None  # the ephemeral store's client, for /readyz


def services() -> Services:
    """The current app's services."""
    return current_app.extensions["chatframe"]


def settings() -> Settings:
    return services().settings
