"""Client authentication by ``private_key_jwt`` (RFC 7523), and JWTs signed by a client's key."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..client_cache import ClientRecord
from ..ephemeral import EphemeralStore
from ..strictjson import StrictJSONError, compact_jws, numeric_date
from .errors import InvalidClientError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ["ES256", "ES384", "ES512", "PS256", "RS256", "EdDSA"]
MAX_LIFETIME = 300  # seconds: client assertions and subject tokens live at most 5 minutes
CLOCK_LEEWAY = 30


class ClientJwtError(ValueError):
    """A JWT claimed to come from a client does not verify or does not fit."""


def unverified_claims(token: str) -> dict[str, Any]:
    """Read a JWT's claims without verifying it (only to find out which client signed it)."""
    try:
        return compact_jws(token)[1]
    except StrictJSONError as exc:
        raise ClientJwtError(f"it is not a compact JWT of JSON objects ({exc})") from exc


def verify_client_jwt(
    client: ClientRecord,
    token: str,
    *,
    audiences: Iterable[str],
    store: EphemeralStore,
    replay_kind: str,
) -> dict[str, Any]:
    """Verify a JWT signed with the client's registered JWKS: signature, iss, aud, exp, jti.

    The ``jti`` is remembered until the token expires, so each one is accepted once.
    """
    if not client.jwks:
        raise ClientJwtError(f"client {client.id} has no registered JWKS")
    claims = unverified_claims(token)  # strict JSON before joserfc reads it
    try:
        keyset = KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
        jwt.decode(token, keyset, algorithms=ALGORITHMS)
    except (JoseError, ValueError, TypeError) as exc:
        raise ClientJwtError("its signature does not verify with the client's JWKS") from exc
    if claims.get("iss") != client.id:
        raise ClientJwtError(f"iss must be the client_id {client.id}")
    aud = claims.get("aud")
    aud_values = aud if isinstance(aud, list) else [aud]
    allowed = list(audiences)
    if not any(value in allowed for value in aud_values):
        raise ClientJwtError(f"aud must be {allowed[0]}")
    now = time.time()
    exp = _check_times(claims, now)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise ClientJwtError("jti is required")
    ttl = max(1.0, exp - now + CLOCK_LEEWAY)
    if not store.remember(replay_kind, f"{client.id}:{jti}", ttl=ttl):
        raise ClientJwtError("its jti was already used")
    return claims


def _check_times(claims: dict[str, Any], now: float) -> float:
    """exp (required, at most 5 min ahead), nbf and iat (optional, not in the future).

    RFC 7519 §4.1.4-4.1.6, RFC 7523 §3; each allows ``CLOCK_LEEWAY`` seconds of clock skew.
    Returns exp.
    """
    exp = numeric_date(claims.get("exp"))
    if exp is None:
        raise ClientJwtError("exp is required, as a number of seconds since 1970")
    if exp <= now - CLOCK_LEEWAY:
        raise ClientJwtError("it has expired")
    if exp > now + MAX_LIFETIME + CLOCK_LEEWAY:
        raise ClientJwtError(f"exp must be at most {MAX_LIFETIME} seconds ahead")
    for name, meaning in (("nbf", "it is not valid yet"), ("iat", "it was issued in the future")):
        if name not in claims:
            continue
        moment = numeric_date(claims[name])
        if moment is None:
            raise ClientJwtError(f"{name} must be a number of seconds since 1970")
        if moment > now + CLOCK_LEEWAY:
            raise ClientJwtError(f"{meaning} ({name} is ahead of the server's clock)")
    return exp


class PrivateKeyJwtAuth:
    """Authlib client-auth method ``private_key_jwt``: registered on the server by name."""

    def __init__(self, store: Callable[[], EphemeralStore], audiences: Callable[[], list[str]]):
        self._store = store
        self._audiences = audiences

    def __call__(
        self, query_client: Callable[[str], ClientRecord | None], request: Any
    ) -> ClientRecord | None:
        assertion = request.param("client_assertion")
        if not assertion:
            return None
        if request.param("client_assertion_type") != ASSERTION_TYPE:
            raise InvalidClientError(f"client_assertion_type must be {ASSERTION_TYPE}.")
        try:
            claims = unverified_claims(assertion)
        except ClientJwtError as exc:
            raise InvalidClientError(f"The client_assertion is invalid: {exc}.") from exc
        client_id = claims.get("iss")
        if not isinstance(client_id, str) or claims.get("sub") != client_id:
            raise InvalidClientError("The client_assertion needs iss and sub equal to client_id.")
        form_client_id = request.param("client_id")
        if form_client_id and form_client_id != client_id:
            raise InvalidClientError("client_id does not match the client_assertion's iss.")
        client = query_client(client_id)
        if client is None:
            raise InvalidClientError("Unknown client.")
        try:
            verify_client_jwt(
                client,
                assertion,
                audiences=self._audiences(),
                store=self._store(),
                replay_kind="assertion_jti",
            )
        except ClientJwtError as exc:
            request.failed_client = client
            raise InvalidClientError(f"The client_assertion is invalid: {exc}.") from exc
        return client
