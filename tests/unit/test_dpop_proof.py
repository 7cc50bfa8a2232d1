"""A DPoP proof whose ath is not ASCII is refused as a bad proof, never a server error."""

from __future__ import annotations

import secrets
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from authserver.ephemeral import EphemeralStore
from authserver.oauth.dpop import DPoPProofError, DPoPVerifier


class MemoryStore:
    """Just enough of the ephemeral store for replay checks."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def remember(self, kind: str, key: str, ttl: float) -> bool:
        if (kind, key) in self.seen:
            return False
        self.seen.add((kind, key))  # type: ignore[arg-type]
        return True


@pytest.mark.parametrize("ath", ["é" * 43, "\U0001f600"])
def test_non_ascii_ath_is_an_invalid_proof(ath: str) -> None:
    key = ECKey.generate_key("P-256")
    url = "http://127.0.0.1:8000/chat/api/bots/bot_x"
    claims = {"htm": "GET", "htu": url, "iat": int(time.time()), "jti": secrets.token_urlsafe(12)}
    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": key.as_dict(private=False)}
    proof = jwt.encode(header, {**claims, "ath": ath}, key)
    store: EphemeralStore = MemoryStore()  # type: ignore[assignment]
    with pytest.raises(DPoPProofError, match="ath does not match"):
        DPoPVerifier(store, 60).verify(proof, method="GET", url=url, access_token="token")


def test_a_nul_in_ath_is_refused_before_the_claims_are_read() -> None:
    key = ECKey.generate_key("P-256")
    url = "http://127.0.0.1:8000/chat/api/bots/bot_x"
    claims = {"htm": "GET", "htu": url, "iat": int(time.time()), "jti": secrets.token_urlsafe(12)}
    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": key.as_dict(private=False)}
    proof = jwt.encode(header, {**claims, "ath": "ath\x00"}, key)
    store: EphemeralStore = MemoryStore()  # type: ignore[assignment]
    with pytest.raises(DPoPProofError, match="must not contain NUL"):
        DPoPVerifier(store, 60).verify(proof, method="GET", url=url, access_token="token")
