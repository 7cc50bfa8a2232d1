"""TOTP second factor for console users: secrets encrypted at rest, each code accepted once."""

from __future__ import annotations

import base64
import hmac
import time

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..services import services

ISSUER_NAME = "Chatframe console"
STEP = 30  # seconds per code
DRIFT_STEPS = 1  # also accept the code just before and just after, for clock drift


def _fernet() -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"chatframe/console-totp/v1"
    ).derive(services().settings.secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def new_secret() -> str:
    return pyotp.random_base32()


def seal(secret: str) -> str:
    """Encrypt a TOTP secret for storage (key derived from CHATFRAME_SECRET_KEY)."""
    return _fernet().encrypt(secret.encode()).decode("ascii")


def unseal(sealed: str) -> str | None:
    """The TOTP secret, or None when it was sealed with another secret key."""
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        return None


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER_NAME)


def qr_code(uri: str) -> str:
    """The ``otpauth://`` URI as a QR code in an SVG data URI (CSP allows ``img-src data:``)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def code_matches(owner: str, secret: str, code: str) -> bool:
    """Check a 6-digit code; a code that was already used (a replay) never matches again."""
    code = "".join(code.split())
    if not (len(code) == 6 and code.isdigit()):
        return False
    totp = pyotp.TOTP(secret, interval=STEP)
    now = int(time.time())
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        moment = now + offset * STEP
        if hmac.compare_digest(totp.at(moment), code):
            counter = moment // STEP
            return services().store.remember(
                "console_totp", f"{owner}:{counter}", ttl=STEP * (2 * DRIFT_STEPS + 2)
            )
    return False
