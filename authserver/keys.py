"""The key store: ES256 signing keys on disk, their next/active/retired states in the database.

Rotation promotes the pre-published *next* key to *active*, retires the old active key (still
published and accepted until everything it signed has expired) and publishes a fresh *next*
key, so no valid token ever fails verification and outside verifiers that cache the JWKS
already know the key before it signs anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeySet
from sqlalchemy import delete, select
from sqlalchemy.orm import Session as OrmSession

from .models import SigningKey, utcnow

ALG = "ES256"
_RELOAD_SECONDS = 30.0
# A token naming a kid we do not know makes us reload at once (it may be a key another worker
# just created), but at most this often: forged kids must not cost a query each.
_FORCED_RELOAD_SECONDS = 1.0
_VERIFIED_CACHE_SIZE = 20_000


class KeyStoreError(RuntimeError):
    """A key file is missing, unreadable or too widely readable."""


class KeyStore:
    """Signing and verification keys shared by every worker and restart."""

    def __init__(
        self, keys_dir: Path, session: Callable[[], OrmSession], retire_after: int
    ) -> None:
        self.keys_dir = keys_dir
        self._session = session
        self._retire_after = retire_after
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._forced_at = 0.0
        self._active_kid: str | None = None
        self._keys: dict[str, ECKey] = {}
        self._keyset = KeySet([])
        self.verified = VerifiedTokens(_VERIFIED_CACHE_SIZE)

    # -- lifecycle -------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create an active and a next key if there are none (first start)."""
        session = self._session()
        states = set(session.execute(select(SigningKey.state)).scalars())
        if "active" not in states:
            self._create(session, "active")
        if "next" not in states:
            self._create(session, "next")
        session.commit()
        self.invalidate()

    def rotate(self) -> dict[str, str]:
        """next → active, active → retired, new next; prune keys retired long enough ago."""
        now = utcnow()
        session = self._session()
        rows = {k.kid: k for k in session.execute(select(SigningKey)).scalars()}
        active = [k for k in rows.values() if k.state == "active"]
        upcoming = [k for k in rows.values() if k.state == "next"]
        for key in active:
            key.state, key.retired_at = "retired", now
        if upcoming:
            promoted = upcoming[0]
            promoted.state, promoted.activated_at = "active", now
        else:
            promoted = self._create(session, "active")
        new_next = self._create(session, "next")
        self._prune(session, now)
        session.commit()
        self.invalidate()
        return {
            "active": promoted.kid,
            "next": new_next.kid,
            "retired": ",".join(k.kid for k in active),
        }

    def list(self) -> list[dict[str, Any]]:
        """Every key's kid, state and timestamps (no key material)."""
        rows = self._session().execute(select(SigningKey).order_by(SigningKey.created_at)).scalars()
        return [
            {
                "kid": k.kid,
                "state": k.state,
                "alg": k.alg,
                "created_at": _iso(k.created_at),
                "activated_at": _iso(k.activated_at),
                "retired_at": _iso(k.retired_at),
            }
            for k in rows
        ]

    def invalidate(self) -> None:
        """Forget the cached keys; the next use reloads them (a worker does this every 30 s)."""
        self._loaded_at = 0.0

    # -- use -------------------------------------------------------------------------------

    def signing_key(self) -> tuple[str, ECKey]:
        """The active key and its kid."""
        self._refresh()
        if self._active_kid is None:
            self._refresh(force=True)
        if self._active_kid is None:
            raise KeyStoreError("no active signing key: run 'chatframe db upgrade' first")
        return self._active_kid, self._keys[self._active_kid]

    def loaded_signing_key(self) -> tuple[str, ECKey] | None:
        """The active key and its kid as this worker loaded them, never reading the database:
        None when a reload is due (then :meth:`signing_key` reloads)."""
        kid = self._active_kid
        if kid is None or time.monotonic() - self._loaded_at >= _RELOAD_SECONDS:
            return None
        key = self._keys.get(kid)
        return None if key is None else (kid, key)

    def verification_keys(self, kid: str | None = None) -> KeySet:
        """Every published key; reloads at once when asked for a kid it has not seen."""
        unknown = kid is not None and kid not in self._keys
        if unknown and time.monotonic() - self._forced_at < _FORCED_RELOAD_SECONDS:
            unknown = False
        if unknown:
            self._forced_at = time.monotonic()
        self._refresh(force=unknown)
        return self._keyset

    def jwks(self) -> dict[str, Any]:
        """The public JWKS: next, active and retired keys; never private material."""
        self._refresh()
        keys = []
        for kid, key in self._keys.items():
            public = key.as_dict(private=False)
            public.update({"kid": kid, "alg": ALG, "use": "sig"})
            keys.append(public)
        return {"keys": keys}

    # -- internals -------------------------------------------------------------------------

    def _create(self, session: OrmSession, state: str) -> SigningKey:
        key = ECKey.generate_key("P-256", private=True)
        kid = key.thumbprint()
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        path = self.keys_dir / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.as_pem(private=True))
        os.chmod(path, 0o600)
        row = SigningKey(
            kid=kid,
            state=state,
            alg=ALG,
            public_jwk=key.as_dict(private=False),
            activated_at=utcnow() if state == "active" else None,
        )
        session.add(row)
        session.flush()
        return row

    def _prune(self, session: OrmSession, now: dt.datetime) -> None:
        cutoff = now - dt.timedelta(seconds=self._retire_after)
        expired = session.execute(
            select(SigningKey.kid).where(
                SigningKey.state == "retired", SigningKey.retired_at < cutoff
            )
        ).scalars()
        for kid in list(expired):
            session.execute(delete(SigningKey).where(SigningKey.kid == kid))
            (self.keys_dir / f"{kid}.pem").unlink(missing_ok=True)

    def _refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < _RELOAD_SECONDS and self._keys:
            return
        with self._lock:
            rows = list(self._session().execute(select(SigningKey)).scalars())
            keys: dict[str, ECKey] = {}
            for row in rows:
                keys[row.kid] = self._keys.get(row.kid) or self._load_private(row.kid)
            if self._keys.keys() - keys.keys():
                self.verified.clear()  # a pruned key: nothing it signed may still pass
            self._keys = keys
            self._keyset = KeySet(list(keys.values()))
            active = [row.kid for row in rows if row.state == "active"]
            self._active_kid = active[0] if active else None
            self._loaded_at = time.monotonic()

    def _load_private(self, kid: str) -> ECKey:
        path = self.keys_dir / f"{kid}.pem"
        try:
            mode = path.stat().st_mode
            data = path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(
                f"signing key {kid} is missing from {self.keys_dir}/: every worker needs the "
                "same keys folder (CHATFRAME_KEYS_DIR)"
            ) from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyStoreError(f"{path} is readable by others; run: chmod 600 {path}")
        key = ECKey.import_key(data)
        if not isinstance(key, ECKey) or key.thumbprint() != kid:
            raise KeyStoreError(f"{path} does not hold the key {kid}")
        return key


class VerifiedTokens:
    """Claims of our own tokens whose signature has verified, kept until they expire.

    Signature checks are pure functions of the token and the published keys, so their result
    can be reused for the token's lifetime; everything that can change (session revocation,
    membership, bot access) is checked on every request by the caller, never cached here.
    """

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[bytes, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> dict[str, Any] | None:
        claims = self._entries.get(self._key(token))
        if claims is None or claims["exp"] <= time.time():
            return None
        return claims

    def put(self, token: str, claims: dict[str, Any]) -> None:
        with self._lock:
            self._entries[self._key(token)] = claims
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
