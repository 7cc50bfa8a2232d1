"""PKCE (RFC 7636), S256 only, with RFC 9700's downgrade rule, as an Authlib grant extension."""

from __future__ import annotations

import hmac
import re
from typing import Any

from ..security import b64url_sha256
from .errors import InvalidGrantError, InvalidRequestError

CODE_CHALLENGE_PATTERN = re.compile(r"^[A-Za-z0-9\-._~]{43}$")
CODE_VERIFIER_PATTERN = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def validate_code_challenge(challenge: str | None, method: str | None) -> str:
    """Check the challenge sent with a token exchange; return it."""
    if not challenge:
        raise InvalidRequestError(
            "code_challenge is required: the iframe's READY message carries it."
        )
    if method != "S256":
        raise InvalidRequestError(
            "code_challenge_method must be 'S256'; 'plain' and missing methods are refused."
        )
    if not CODE_CHALLENGE_PATTERN.match(challenge):
        raise InvalidRequestError("code_challenge must be 43 base64url characters (S256).")
    return challenge


class S256CodeChallenge:
    """Verify ``code_verifier`` against the code's stored challenge after token validation."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_token_request", self.validate_code_verifier)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        verifier = grant.request.param("code_verifier")
        if grant.request.authorization_code.get("fragment"):
            # A native fragment-mode code has no challenge by design (DPoP binds it instead).
            if verifier:
                raise InvalidGrantError(
                    "A code from the URL fragment is redeemed without a code_verifier."
                )
            return
        challenge = grant.request.authorization_code.get("code_challenge")
        if not challenge:
            # RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a
            # downgrade attempt; a code without one is never redeemable here anyway.
            raise InvalidGrantError(
                "This code was issued without a code_challenge and cannot be redeemed."
            )
        if not verifier or not CODE_VERIFIER_PATTERN.match(verifier):
            raise InvalidGrantError("code_verifier is missing or malformed.")
        if not hmac.compare_digest(b64url_sha256(verifier), challenge):
            raise InvalidGrantError("code_verifier does not match the code_challenge.")
