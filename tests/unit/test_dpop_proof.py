"""A DPoP proof whose ath is not ASCII is refused as a bad proof, never a server error."""

from __future__ import annotations

import base64
import json
import secrets
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
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


# -- The signature: verified on the header and payload read once, by joserfc's own rules ------

URL = "http://127.0.0.1:8000/chat/api/bots/bot_x"


def _proof(key: ECKey, **header: object) -> str:
    claims = {"htm": "GET", "htu": URL, "iat": int(time.time()), "jti": secrets.token_urlsafe(12)}
    head = {"alg": "ES256", "typ": "dpop+jwt", "jwk": key.as_dict(private=False), **header}
    return jwt.encode(head, claims, key)


def _verify(proof: str) -> object:
    store: EphemeralStore = MemoryStore()  # type: ignore[assignment]
    return DPoPVerifier(store, 60).verify(proof, method="GET", url=URL)


def test_a_good_proof_verifies_and_names_its_key() -> None:
    key = ECKey.generate_key("P-256")
    assert _verify(_proof(key)).jkt == key.thumbprint()  # type: ignore[attr-defined]


def _swap_segment(proof: str, index: int, replacement: str) -> str:
    parts = proof.split(".")
    parts[index] = replacement
    return ".".join(parts)


@pytest.mark.parametrize(
    "tamper",
    [
        # another key's signature over the same header and payload
        lambda proof: _swap_segment(proof, 2, _proof(ECKey.generate_key("P-256")).split(".")[2]),
        # the payload of another proof (same key) under this proof's signature
        lambda proof: _swap_segment(proof, 1, _proof(KEY).split(".")[1]),
        lambda proof: _swap_segment(proof, 2, "not*base64url"),
        lambda proof: _swap_segment(proof, 2, ""),
        lambda proof: _swap_segment(proof, 2, proof.split(".")[2][:-4]),
    ],
    ids=["other-key", "other-payload", "signature-not-base64url", "no-signature", "short"],
)
def test_a_proof_whose_signature_does_not_match_is_refused(tamper: object) -> None:
    with pytest.raises(DPoPProofError, match="signature does not verify"):
        _verify(tamper(_proof(KEY)))  # type: ignore[operator]


def _signed_by_hand(key: ECKey, header: dict[str, object]) -> str:
    """A proof joserfc would refuse to sign, signed with the key directly (ES256, r || s)."""
    claims = {"htm": "GET", "htu": URL, "iat": int(time.time()), "jti": secrets.token_urlsafe(12)}
    segments = [
        base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
        for part in (header, claims)
    ]
    signing_input = ".".join(segments).encode()
    der = key.get_op_key("sign").sign(signing_input, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return ".".join([*segments, signature.decode().rstrip("=")])


def test_the_hand_signed_control_proof_verifies() -> None:
    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": KEY.as_dict(private=False)}
    assert _verify(_signed_by_hand(KEY, header)).jkt == KEY.thumbprint()  # type: ignore[attr-defined]


def test_an_unknown_critical_header_is_refused() -> None:
    # RFC 7515 §4.1.11: a recipient must refuse a "crit" extension it does not understand.
    header = {
        "alg": "ES256",
        "typ": "dpop+jwt",
        "jwk": KEY.as_dict(private=False),
        "crit": ["urn:example:must-understand"],
        "urn:example:must-understand": 1,
    }
    with pytest.raises(DPoPProofError, match="signature does not verify"):
        _verify(_signed_by_hand(KEY, header))


def test_an_alg_that_does_not_fit_the_key_is_refused() -> None:
    rsa_alg_on_ec_key = _swap_segment(
        _proof(KEY),
        0,
        base64.urlsafe_b64encode(
            json.dumps(
                {"alg": "RS256", "typ": "dpop+jwt", "jwk": KEY.as_dict(private=False)}
            ).encode()
        )
        .decode()
        .rstrip("="),
    )
    with pytest.raises(DPoPProofError, match="signature does not verify"):
        _verify(rsa_alg_on_ec_key)


KEY = ECKey.generate_key("P-256")


# -- Headers are read once per distinct header (proof_header); proofs are still checked whole ----


def test_a_remembered_header_does_not_vouch_for_another_keys_signature() -> None:
    attacker = ECKey.generate_key("P-256")
    victims = _proof(KEY)
    assert _verify(victims).jkt == KEY.thumbprint()  # type: ignore[attr-defined]
    # The victim's header (its public key) over the attacker's claims, signed by the attacker.
    head = victims.split(".")[0]
    claims = {"htm": "GET", "htu": URL, "iat": int(time.time()), "jti": secrets.token_urlsafe(12)}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    der = attacker.get_op_key("sign").sign(f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    with pytest.raises(DPoPProofError, match="signature does not verify"):
        _verify(f"{head}.{payload}.{signature.rstrip('=')}")


def test_a_refused_header_is_refused_every_time() -> None:
    proof = _proof(KEY, typ="JWT")
    for _ in range(2):
        with pytest.raises(DPoPProofError, match="typ must be 'dpop\\+jwt'"):
            _verify(proof)


def test_htu_forms_that_name_the_same_url_match_and_others_do_not() -> None:
    from authserver.oauth.dpop import normalize_htu

    url = "https://chat.example.com/chat/api/bots/bot_x"
    for same in (url, "HTTPS://Chat.Example.com:443/chat/api/bots/bot_x", url + "?q=1#f"):
        assert normalize_htu(same) == url
        assert normalize_htu(same) == url  # the remembered answer is the same answer
    for other in ("http://chat.example.com/chat/api/bots/bot_x", url + "/", url[:-1] + "y"):
        assert normalize_htu(other) != url
    long_url = url + "/" + "a" * 600  # read every time: never kept
    assert normalize_htu(long_url) == long_url


def test_an_unreadable_htu_is_refused_every_time() -> None:
    from authserver.oauth.dpop import normalize_htu

    for _ in range(2):  # a refusal is not remembered as an answer
        with pytest.raises(DPoPProofError):
            normalize_htu("https://chat.example.com:99999/x")


def test_only_short_htus_are_kept() -> None:
    from authserver.oauth import dpop

    before = dpop._remembered_htu.cache_info().currsize
    dpop.normalize_htu("https://chat.example.com/" + secrets.token_urlsafe(600))
    assert dpop._remembered_htu.cache_info().currsize == before
    dpop.normalize_htu("https://chat.example.com/" + secrets.token_urlsafe(16))
    assert dpop._remembered_htu.cache_info().currsize == before + 1
