"""Back-off after failed console sign-ins, per account (known or not) and per network address.

The ephemeral store decides (its counters are atomic across workers, so parallel guesses are
all counted). An unknown email is throttled exactly like a real one, so the lockout never
tells anyone which emails have an account.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass

from ..ephemeral import EphemeralStore
from ..models import ConsoleUser
from ..security import Hasher
from ..services import services

LONGEST_LOCK = 3600  # seconds; the back-off doubles up to this
FAILURE_WINDOW = 86400  # failures are counted per day (and afresh after each sign-in)
ADDRESS_WINDOW = 900
ADDRESS_LIMIT = 50  # failed sign-ins from one address per ADDRESS_WINDOW, whatever the email


@dataclass
class SignInThrottle:
    store: EphemeralStore
    hasher: Hasher
    lock_after: int  # failures before the first lock
    first_lock: int  # seconds of the first lock; each further failure doubles it

    @classmethod
    def current(cls) -> SignInThrottle:
        app = services()
        return cls(
            app.store,
            app.hasher,
            app.settings.console_lockout_after,
            app.settings.console_lockout_seconds,
        )

    def retry_after(self, email: str, ip: str | None) -> int:
        """Seconds before ``email`` may be tried again from ``ip``; 0 when it may be now."""
        now = time.time()
        waits = [0]
        for key in (self._key("account", email), self._key("address", ip or "")):
            lock = self.store.get("console_lock", key)
            if lock:
                waits.append(math.ceil(float(lock["until"]) - now))
        return max(waits)

    def failed(self, email: str, ip: str | None, user: ConsoleUser | None) -> int:
        """Count one failure; return how many seconds the account is now locked (0: not)."""
        count, _ = self.store.hit("console_failures", self._generation(email, user), FAILURE_WINDOW)
        lock = 0
        if count >= self.lock_after:
            lock = min(self.first_lock * 2 ** min(count - self.lock_after, 16), LONGEST_LOCK)
            self._lock(self._key("account", email), lock)
        from_address, reset = self.store.hit(
            "console_failures_ip", self._key("address", ip or ""), ADDRESS_WINDOW
        )
        if from_address >= ADDRESS_LIMIT:
            self._lock(self._key("address", ip or ""), reset)
            lock = max(lock, reset)
        if user is not None:
            user.failed_sign_ins = count
            if lock:
                user.locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lock)
        return lock

    def _lock(self, key: str, seconds: int) -> None:
        self.store.put("console_lock", key, {"until": time.time() + seconds}, ttl=seconds)

    def _generation(self, email: str, user: ConsoleUser | None) -> str:
        # A successful sign-in starts a fresh count: the key changes with last_sign_in_at.
        since = user.last_sign_in_at.timestamp() if user and user.last_sign_in_at else 0
        return f"{self._key('account', email)}:{int(since)}"

    def _key(self, kind: str, value: str) -> str:
        return self.hasher.hash(f"console-sign-in/{kind}/{value}")[:40]


def wait_message(seconds: int) -> str:
    """'Try again in 2 minutes.' for a lock of ``seconds``."""
    if seconds < 60:
        amount = f"{seconds} second{'s' if seconds != 1 else ''}"
    else:
        minutes = math.ceil(seconds / 60)
        amount = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"Too many failed sign-ins: wait {amount}, then try again."
