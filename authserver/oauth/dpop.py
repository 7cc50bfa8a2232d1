"""DPoP (RFC 9449): proof verification, and the grant extension that binds codes and sessions."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from joserfc.jws import JWSRegistry

from ..ephemeral import EphemeralStore
from ..security import b64url_sha256
from ..strictjson import (
    StrictJSONError,
    b64url_decode,
    compact_parts,
    json_object,
    numeric_date,
)
from .errors import InvalidDPoPProofError, InvalidGrantError

ALGORITHMS = ("ES256", "ES384", "ES512", "PS256", "RS256", "EdDSA")
MAX_PROOF_LENGTH = 8192
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})


class DPoPProofError(ValueError):
    """A DPoP proof is missing, malformed, replayed or does not fit the request."""


REPLAYED = "This DPoP proof was already used (jti replay)."


@dataclass(frozen=True)
class DPoPProof:
    jkt: str  # RFC 7638 thumbprint of the proof's public key
    jti: str
    # What the jti is remembered under, and for how long (``EphemeralStore.remember``).
    replay_key: tuple[str, str, float] = ("", "", 0.0)


def normalize_htu(url: str) -> str:
    """Scheme and host lower-cased, default port dropped, no query or fragment (RFC 9449 §4.3).

    Raises DPoPProofError for a URL that cannot be read (a port out of range, a broken host).
    Each proof names one of a few URLs and each request is checked against its own, so a
    URL up to ``_REMEMBERED_HTU`` characters is read once per worker (at most 1,024 kept);
    a longer one every time, so no sender can fill the cache with long strings.
    """
    if len(url) <= _REMEMBERED_HTU:
        return _remembered_htu(url)
    return _normalized_htu(url)


_REMEMBERED_HTU = 512


@functools.lru_cache(maxsize=1024)
def _remembered_htu(url: str) -> str:
    return _normalized_htu(url)


def _normalized_htu(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DPoPProofError("The DPoP proof's htu is not a valid URL.") from exc
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if port and port != default_port:
        netloc += f":{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", "", ""))


@functools.lru_cache(maxsize=4096)
def public_key(canonical_jwk: str) -> tuple[Any, str]:
    """Import a proof's public JWK once and compute its RFC 7638 thumbprint once.

    An iframe signs every proof with the same key, so each chat request would otherwise
    re-import it. Keyed by the JWK's canonical JSON; public keys only (checked by the caller).
    """
    key = JWKRegistry.import_key(json.loads(canonical_jwk))
    return key, key.thumbprint()


@functools.lru_cache(maxsize=4096)
def proof_header(segment: str) -> tuple[dict[str, Any], str, Any, str]:
    """A proof's header, read strictly and checked: (header, alg, public key, thumbprint).

    Once per distinct header: an iframe signs every proof with the same header (``typ``,
    ``alg`` and its public ``jwk``), so each chat request would otherwise decode, parse and
    check the same JSON again. A header that fails is not remembered. Raises
    StrictJSONError for JSON that is not an object, DPoPProofError for a header that is
    not a DPoP proof's. The result is shared: callers only read it.
    """
    header = json_object(segment, "header")
    if header.get("typ") != "dpop+jwt":
        raise DPoPProofError("The DPoP proof's typ must be 'dpop+jwt'.")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise DPoPProofError(f"The DPoP proof's alg must be one of {', '.join(ALGORITHMS)}.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or _PRIVATE_MEMBERS & jwk.keys():
        raise DPoPProofError("The DPoP proof's jwk must be a public key.")
    try:
        key, jkt = public_key(json.dumps(jwk, sort_keys=True))
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        # joserfc raises KeyError for an unknown "crv" or "kty"
        raise DPoPProofError("The DPoP proof's jwk is not a supported public key.") from exc
    return header, alg, key, jkt


_REGISTRIES = {alg: JWSRegistry(algorithms=[alg]) for alg in ALGORITHMS}


def _signature_verifies(parts: list[str], header: dict[str, Any], alg: str, key: Any) -> bool:
    """joserfc's header rules and ``alg`` on the header already read strictly.

    What ``jws.deserialize_compact`` does, without decoding the header and payload a second
    time: the proof was split and parsed once (``proof_header``, ``json_object``).
    """
    registry = _REGISTRIES[alg]
    head, payload, signature = parts
    try:
        registry.check_header(header)
        algorithm = registry.get_alg(alg)
        algorithm.check_key(key)
        return bool(algorithm.verify(f"{head}.{payload}".encode(), b64url_decode(signature), key))
    except (JoseError, ValueError, TypeError):
        return False


class DPoPVerifier:
    """Verify a proof's header, signature, claims and freshness; remember its ``jti``."""

    def __init__(self, store: EphemeralStore, leeway: int) -> None:
        self.store = store
        self.leeway = leeway

    def verify(
        self,
        proof: str,
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        remember: bool = True,
    ) -> DPoPProof:
        """The verified proof; raises DPoPProofError. ``remember=False``: its ``jti`` is not
        recorded here, and the caller must record ``replay_key`` before trusting it."""
        if not proof or len(proof) > MAX_PROOF_LENGTH:
            raise DPoPProofError("The DPoP proof is missing or too long.")
        try:
            parts = compact_parts(proof)
            header, alg, key, jkt = proof_header(parts[0])
            claims = json_object(parts[1], "payload")
        except StrictJSONError as exc:
            raise DPoPProofError(
                f"The DPoP proof is not a compact JWS of JSON objects: {exc}."
            ) from exc
        if not _signature_verifies(parts, header, alg, key):
            raise DPoPProofError("The DPoP proof's signature does not verify.")
        self._check_claims(claims, method=method, url=url, access_token=access_token)
        jti = claims["jti"]
        replay_key = hashlib.sha256(f"{jkt}:{jti}".encode()).hexdigest()
        ttl = 2 * self.leeway + 5
        if remember and not self.store.remember("dpop_jti", replay_key, ttl=ttl):
            raise DPoPProofError(REPLAYED)
        return DPoPProof(jkt=jkt, jti=jti, replay_key=("dpop_jti", replay_key, ttl))

    def _check_claims(
        self, claims: dict[str, Any], *, method: str, url: str, access_token: str | None
    ) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
            raise DPoPProofError("The DPoP proof needs a jti of 8 to 256 characters.")
        if claims.get("htm") != method:
            raise DPoPProofError(f"The DPoP proof's htm must be {method!r}.")
        htu = claims.get("htu")
        if not isinstance(htu, str) or normalize_htu(htu) != normalize_htu(url):
            raise DPoPProofError(f"The DPoP proof's htu must be {normalize_htu(url)!r}.")
        iat = numeric_date(claims.get("iat"))
        if iat is None:
            raise DPoPProofError("The DPoP proof needs a numeric iat (seconds since 1970).")
        if abs(time.time() - iat) > self.leeway:
            raise DPoPProofError(
                f"The DPoP proof's iat is more than {self.leeway} s away from the server's clock."
            )
        if access_token is not None:
            ath = claims.get("ath")
            # compare_digest refuses non-ASCII str: compare the UTF-8 bytes of what was sent.
            if not isinstance(ath, str) or not hmac.compare_digest(
                ath.encode("utf-8", "surrogatepass"), b64url_sha256(access_token).encode()
            ):
                raise DPoPProofError("The DPoP proof's ath does not match the access token.")


class DPoPBinding:
    """Grant extension: check the request's DPoP proof and the key the grant is bound to.

    The grant exposes ``dpop_binding() -> (required, jkt)``; the verified proof is left on
    ``request.dpop`` (or ``None``) for the grant to bind what it issues.
    """

    def __init__(self, verifier_factory: Any, token_endpoint: Any) -> None:
        self._verifier = verifier_factory
        self._token_endpoint = token_endpoint

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_token_request", self.check)
        grant.dpop_extension = self

    def verify_early(self, grant: Any) -> DPoPProof | None:
        """For a grant that spends something before its proof is checked (the code): verify
        the request's one proof now, without recording its ``jti``; the grant records
        ``replay_key`` in the same step as the spend and sets ``request.dpop_jti_new``.
        ``check`` then raises what was found, where it always does (after validation)."""
        request = grant.request
        proofs = _proofs(request)
        if len(proofs) != 1:
            return None  # check() refuses these as before
        try:
            proof = self._verifier().verify(
                proofs[0], method=request.method, url=self._token_endpoint(), remember=False
            )
        except DPoPProofError as exc:
            request.dpop_early = exc
            return None
        request.dpop_early = proof
        return proof

    def check(self, grant: Any, result: Any) -> None:
        request = grant.request
        required, bound_jkt = grant.dpop_binding()
        proofs = _proofs(request)
        if len(proofs) > 1:
            raise InvalidDPoPProofError("Send exactly one DPoP header.")
        if not proofs:
            if required:
                raise InvalidDPoPProofError("A DPoP proof is required: this grant is DPoP-bound.")
            request.dpop = None
            return
        early: DPoPProof | DPoPProofError | None = getattr(request, "dpop_early", None)
        try:
            if isinstance(early, DPoPProofError):
                raise early
            if early is None:
                proof = self._verifier().verify(
                    proofs[0], method=request.method, url=self._token_endpoint()
                )
            elif getattr(request, "dpop_jti_new", None) is not True:
                raise DPoPProofError(REPLAYED)
            else:
                proof = early
        except DPoPProofError as exc:
            raise InvalidDPoPProofError(str(exc)) from exc
        if bound_jkt and not hmac.compare_digest(proof.jkt, bound_jkt):
            raise InvalidGrantError("The DPoP proof's key is not the key this grant is bound to.")
        request.dpop = proof


def _proofs(request: Any) -> list[str]:
    """The request's DPoP headers (none for a request without a header mapping)."""
    return request.headers.getlist("DPoP") if hasattr(request.headers, "getlist") else []
