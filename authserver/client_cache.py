"""The client cache: immutable client records for the hot paths, reloaded after a short TTL.

A worker keeps each client it has seen for at most ``CHATFRAME_CLIENT_CACHE_TTL`` seconds
(default 5). A change made in the same process (console, management API, CLI run in-process)
drops the entry at once; a change made by another process — another worker, the ``chatframe``
CLI — reaches every worker within the TTL. That is the documented bound for a secret rotation,
a disabled client and changed origins, IP allowlist or JWKS. Membership, bot access and
session revocation are never cached.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select

from . import fastsql
from .models import Client, utcnow
from .security import Hasher

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ClientRecord:
    """What the token endpoint, the embed page and the chat API need to know of a client.

    It is also what Authlib's grant machinery asks of a client (its ``ClientMixin``).
    """

    id: str
    customer_id: str
    secret_hash: str
    previous_secret_hash: str | None
    previous_secret_expires_at: dt.datetime | None
    jwks: dict[str, Any] | None
    allowed_origins: tuple[str, ...]
    ip_allowlist: tuple[str, ...]
    enabled: bool
    native_enabled: bool = False
    native_fragment: bool = False
    networks: tuple[IpNetwork, ...] = field(default=(), compare=False)

    @classmethod
    def from_row(cls, row: Any) -> ClientRecord:
        cidrs = tuple(row.ip_allowlist or ())
        return cls(
            id=row.id,
            customer_id=row.customer_id,
            secret_hash=row.secret_hash,
            previous_secret_hash=row.previous_secret_hash,
            previous_secret_expires_at=row.previous_secret_expires_at,
            jwks=row.jwks,
            allowed_origins=tuple(row.allowed_origins or ()),
            ip_allowlist=cidrs,
            enabled=bool(row.enabled),
            native_enabled=bool(row.native_enabled),
            native_fragment=bool(row.native_fragment),
            networks=tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs),
        )

    # -- Authlib ClientMixin ---------------------------------------------------------------

    def get_client_id(self) -> str:
        return self.id

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return self.enabled

    def check_grant_type(self, grant_type: str) -> bool:
        return self.enabled

    def check_client_secret(self, client_secret: str) -> bool:
        from .services import services  # late import: the keyed hasher is the app's

        return secret_matches(services().hasher, self, client_secret)

    # -- our rules ---------------------------------------------------------------------------

    def allows_origin(self, origin: str) -> bool:
        return origin in self.allowed_origins

    @property
    def allows_native_fragment(self) -> bool:
        """Whether the native page may take a code from its URL fragment (the weaker mode)."""
        return self.native_enabled and self.native_fragment

    def allows_ip(self, ip: str | None) -> bool:
        """True when no allowlist is set or ``ip`` falls in one of its CIDR blocks."""
        if not self.networks:
            return True
        if not ip:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def secret_matches(
    hasher: Hasher, client: ClientRecord, secret: str, now: dt.datetime | None = None
) -> bool:
    """The current secret, or the previous one during its rotation grace; constant time."""
    if hasher.matches(secret, client.secret_hash):
        return True
    expires = client.previous_secret_expires_at
    return bool(
        client.previous_secret_hash
        and expires is not None
        and (now or utcnow()) < expires
        and hasher.matches(secret, client.previous_secret_hash)
    )


_COLUMNS = [
    Client.id,
    Client.customer_id,
    Client.secret_hash,
    Client.previous_secret_hash,
    Client.previous_secret_expires_at,
    Client.jwks,
    Client.allowed_origins,
    Client.ip_allowlist,
    Client.enabled,
    Client.native_enabled,
    Client.native_fragment,
]


_LOAD = fastsql.Prepared(select(*_COLUMNS).where(Client.id == bindparam("client_id")))


def valid_client_id(client_id: object) -> bool:
    """Whether ``client_id`` looks like one of ours (anything else is not looked up)."""
    return isinstance(client_id, str) and client_id.startswith("cf_") and len(client_id) <= 40


class ClientCache:
    """Per-process cache of :class:`ClientRecord` by client id, bounded in age and size."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, ClientRecord]] = OrderedDict()
        self._lock = threading.Lock()

    def fresh(self, client_id: str) -> ClientRecord | None:
        """The client if this worker loaded it less than ``ttl`` seconds ago; never reads the
        database (None: not cached, or due for a reload)."""
        entry = self._entries.get(client_id)
        if entry is not None and time.monotonic() - entry[0] < self.ttl:
            return entry[1]
        return None

    def get(self, client_id: str) -> ClientRecord | None:
        """The client, from the cache if it was loaded less than ``ttl`` seconds ago."""
        if not valid_client_id(client_id):
            return None
        cached = self.fresh(client_id)
        if cached is not None:
            return cached
        now = time.monotonic()
        # On the driver: a reload leaves no transaction open behind it (the grants' writes
        # that follow then stay one round trip each).
        row = _LOAD.first(client_id=client_id)
        if row is None:
            self.invalidate(client_id)
            return None
        record = ClientRecord.from_row(row)
        if self.ttl > 0:
            with self._lock:
                self._entries[client_id] = (now, record)
                self._entries.move_to_end(client_id)
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        return record

    def invalidate(self, client_id: str | None = None) -> None:
        """Forget one client (or all): the next use reloads it from the database."""
        with self._lock:
            if client_id is None:
                self._entries.clear()
            else:
                self._entries.pop(client_id, None)
