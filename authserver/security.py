"""Random public ids, secrets, keyed hashing, password hashing and constant-time comparison."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import string

from werkzeug.security import check_password_hash, generate_password_hash

_ALPHABET = string.ascii_letters + string.digits

PREFIXES = frozenset({"cus", "cf", "bot", "ses", "cnv", "msg", "usr", "evt", "key", "cu"})


def new_id(prefix: str, length: int = 22) -> str:
    """Return a random public id such as ``cf_8Jq...`` (about 130 bits; never sequential)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    chars: list[str] = []
    while len(chars) < length:
        # One read of the OS's randomness for the whole id (not one per character); bytes of
        # 248 and up are dropped so every character stays uniform over the 62 (248 = 4 * 62).
        chars += [_ALPHABET[b % 62] for b in secrets.token_bytes(length + 8) if b < 248]
    return f"{prefix}_" + "".join(chars[:length])


def new_secret(prefix: str) -> str:
    """Return a high-entropy (256-bit) secret with a recognisable prefix for secret scanners."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


class Hasher:
    """Keyed SHA-256 for high-entropy secrets: client secrets, embed codes, refresh tokens.

    The key is derived from ``CHATFRAME_SECRET_KEY`` so a stolen database alone cannot be used
    to test guesses; the inputs are random 256-bit values, so a slow hash adds nothing.
    """

    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(
            secret_key.encode(), b"chatframe/secret-hash/v1", hashlib.sha256
        ).digest()

    def hash(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    def matches(self, value: str, stored_hash: str | None) -> bool:
        """Compare ``value`` against a stored hash in constant time."""
        if not stored_hash:
            return False
        return hmac.compare_digest(self.hash(value), stored_hash)


def b64url_sha256(value: str) -> str:
    """BASE64URL(SHA256(value)) without padding, as PKCE S256 and DPoP ``ath`` use it."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def fingerprint(value: str) -> str:
    """A short, non-reversible reference for logs (never the value itself)."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def hash_password(password: str) -> str:
    """A slow, salted hash (scrypt) for passwords people choose; never use it for our secrets."""
    return generate_password_hash(password, method="scrypt")


@functools.cache
def _unusable_password_hash() -> str:
    return hash_password(secrets.token_urlsafe(32))


def password_matches(password: str, stored_hash: str | None) -> bool:
    """Check a password against its hash; with no hash, spend the same time and say no.

    Checking a throwaway hash for an unknown email keeps its answer as slow as a wrong
    password's, so timing does not tell which emails have an account.
    """
    if not stored_hash:
        check_password_hash(_unusable_password_hash(), password)
        return False
    return check_password_hash(stored_hash, password)
