"""Sign and verify our JWTs: RFC 9068 access tokens, OIDC ID tokens, management tokens."""

from __future__ import annotations

import secrets
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from ..config import Settings
from ..keys import KeyStore
from ..strictjson import StrictJSONError, compact_jws

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - a media type, not a secret


class TokenError(ValueError):
    """A token is malformed, not ours, for another audience, or expired."""


class TokenIssuer:
    """Everything Chatframe signs goes through here, with the active key of the key store."""

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self.settings = settings
        self.keys = keys

    @property
    def chat_audience(self) -> str:
        return f"{self.settings.issuer}/chat"

    @property
    def api_audience(self) -> str:
        return f"{self.settings.issuer}/api"

    def _sign(self, claims: dict[str, Any], typ: str, key: tuple[str, ECKey] | None = None) -> str:
        kid, signing = key or self.keys.signing_key()
        return jwt.encode({"alg": "ES256", "kid": kid, "typ": typ}, claims, signing)

    def access_token(
        self,
        *,
        sub: str,
        client_id: str,
        sid: str,
        bots: list[str],
        scope: str,
        auth_time: int,
        session_expires_at: int,
        jkt: str | None,
    ) -> tuple[str, int]:
        """A chat access token; never outlives its session. Returns (token, expires_in)."""
        now = int(time.time())
        exp = min(now + self.settings.access_token_ttl, session_expires_at)
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "aud": self.chat_audience,
            "sub": sub,
            "client_id": client_id,
            "sid": sid,
            "bots": bots,
            "scope": scope,
            "iat": now,
            "exp": exp,
            "auth_time": auth_time,
            "jti": secrets.token_urlsafe(16),
        }
        if jkt:
            claims["cnf"] = {"jkt": jkt}
        return self._sign(claims, ACCESS_TOKEN_TYP), exp - now

    def id_token(
        self,
        *,
        sub: str,
        client_id: str,
        sid: str,
        nonce: str | None,
        amr: list[str],
        auth_time: int,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "aud": client_id,
            "azp": client_id,
            "sub": sub,
            "sid": sid,
            "iat": now,
            "exp": now + self.settings.id_token_ttl,
            "auth_time": auth_time,
            "amr": amr,
        }
        if nonce:
            claims["nonce"] = nonce
        return self._sign(claims, "JWT")

    def management_token(
        self, *, client_id: str, key: tuple[str, ECKey] | None = None
    ) -> tuple[str, int]:
        """A management API token; signed with ``key`` (kid, key) if given, else the active key."""
        now = int(time.time())
        ttl = self.settings.access_token_ttl
        claims = {
            "iss": self.settings.issuer,
            "aud": self.api_audience,
            "sub": client_id,
            "client_id": client_id,
            "scope": "manage",
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(16),
        }
        return self._sign(claims, ACCESS_TOKEN_TYP, key), ttl

    def verify_access_token(
        self, token: str, audience: str | None = None, *, check_exp: bool = True
    ) -> dict[str, Any]:
        """Verify signature, ``typ``, ``iss``, ``aud`` and ``exp``; return the claims.

        A token whose signature verified before is not verified again until it expires
        (see :class:`~authserver.keys.VerifiedTokens`); the claim checks run every time.
        """
        claims = self.keys.verified.get(token) if check_exp else None
        if claims is None:
            claims = self._verify_signature(token)
        if claims.get("iss") != self.settings.issuer:
            raise TokenError("issued by another issuer")
        audiences = (self.chat_audience, self.api_audience) if audience is None else (audience,)
        if claims.get("aud") not in audiences:
            raise TokenError("issued for another audience")
        if check_exp and claims["exp"] <= time.time():
            raise TokenError("expired")
        return dict(claims)

    def _verify_signature(self, token: str) -> dict[str, Any]:
        try:
            header = compact_jws(token)[0]  # strict JSON before joserfc reads it
        except StrictJSONError as exc:
            raise TokenError("not a JWT") from exc
        if header.get("typ") != ACCESS_TOKEN_TYP or header.get("alg") != "ES256":
            raise TokenError("not a Chatframe access token")
        try:
            keyset = self.keys.verification_keys(kid=header.get("kid"))
            claims = dict(jwt.decode(token, keyset, algorithms=["ES256"]).claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenError("signature does not verify") from exc
        exp = claims.get("exp")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise TokenError("no exp")
        self.keys.verified.put(token, claims)
        return claims
