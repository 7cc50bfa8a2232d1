"""Test-side actors of the embed flow: a customer backend and the iframe (PKCE + DPoP)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from joserfc import jwt
from joserfc.jwk import ECKey

from authserver.security import b64url_sha256

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
PARTNER_USER_ID = "urn:chatframe:token-type:partner-user-id"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def dpop_proof(
    key: ECKey,
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    iat: float | None = None,
    jti: str | None = None,
    typ: str = "dpop+jwt",
) -> str:
    claims: dict[str, Any] = {
        "htm": method,
        "htu": url,
        "iat": int(time.time() if iat is None else iat),
        "jti": jti or secrets.token_urlsafe(16),
    }
    if access_token is not None:
        claims["ath"] = b64url_sha256(access_token)
    header = {"alg": "ES256", "typ": typ, "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key)


def signed_jwt(key: ECKey, claims: dict[str, Any], kid: str | None = None) -> str:
    header: dict[str, Any] = {"alg": "ES256"}
    if kid:
        header["kid"] = kid
    return jwt.encode(header, claims, key)


@dataclass
class Iframe:
    """What the iframe holds in memory: the PKCE verifier and a DPoP key pair."""

    base_url: str
    client_id: str
    origin: str
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256"))
    tokens: dict[str, Any] = field(default_factory=dict)

    @property
    def challenge(self) -> str:
        return b64url_sha256(self.verifier)

    @property
    def jkt(self) -> str:
        return self.key.thumbprint()

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    def proof(self, method: str = "POST", url: str | None = None, **kw: Any) -> str:
        return dpop_proof(self.key, method, url or self.token_url, **kw)

    def redeem(self, code: str, *, dpop: bool = True, **overrides: Any) -> requests.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": self.verifier,
            "client_id": self.client_id,
            "origin": self.origin,
        }
        headers = overrides.pop("headers", None)
        if headers is None:
            headers = {"DPoP": self.proof()} if dpop else {}
        data.update(overrides)
        data = {k: v for k, v in data.items() if v is not None}
        response = requests.post(self.token_url, data=data, headers=headers, timeout=30)
        if response.status_code == 200:
            self.tokens = response.json()
        return response

    def refresh(self, refresh_token: str | None = None, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", None)
        if headers is None:
            headers = {"DPoP": self.proof()}
        data = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token or self.tokens["refresh_token"],
            "client_id": self.client_id,
        }
        data.update(kw)
        response = requests.post(self.token_url, data=data, headers=headers, timeout=30)
        if response.status_code == 200 and refresh_token is None:
            self.tokens = response.json()
        return response

    def api(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        token: str | None = None,
        proof: str | None = None,
        scheme: str | None = None,
        dpop: bool = True,
    ) -> requests.Response:
        """A chat API request with this iframe's DPoP-bound access token and a fresh proof."""
        url = f"{self.base_url}{path}"
        access = token or self.tokens["access_token"]
        headers = {"Authorization": f"{scheme or self.tokens.get('token_type', 'DPoP')} {access}"}
        if dpop:
            headers["DPoP"] = proof or self.proof(method, url.split("?")[0], access_token=access)
        return requests.request(method, url, json=json, headers=headers, timeout=30)

    def revoke(self, token: str | None = None) -> requests.Response:
        return requests.post(
            f"{self.base_url}/oauth/revoke",
            data={"token": token or self.tokens["refresh_token"], "client_id": self.client_id},
            timeout=30,
        )


@dataclass
class Backend:
    """A customer's backend: holds the client secret, asks Chatframe for embed codes."""

    base_url: str
    client_id: str
    client_secret: str

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    def exchange(
        self,
        iframe: Iframe | None,
        user: str,
        bots: list[str],
        *,
        auth: Any = "basic",
        browser_origin: str | None = None,
        **overrides: Any,
    ) -> requests.Response:
        """The token exchange; ``browser_origin`` sends it as a web page would (``Origin``)."""
        data: dict[str, Any] = {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": user,
            "subject_token_type": PARTNER_USER_ID,
            "scope": " ".join(["chat", *(f"bot:{b}" for b in bots)]),
        }
        if iframe is not None:
            data.update(
                origin=iframe.origin,
                code_challenge=iframe.challenge,
                code_challenge_method="S256",
                dpop_jkt=iframe.jkt,
            )
        data.update(overrides)
        data = {k: v for k, v in data.items() if v is not None}
        kwargs: dict[str, Any] = {}
        if auth == "basic":
            kwargs["auth"] = (self.client_id, self.client_secret)
        elif auth == "post":
            data.update(client_id=self.client_id, client_secret=self.client_secret)
        elif isinstance(auth, dict):
            data.update(auth)
        elif isinstance(auth, tuple):
            kwargs["auth"] = auth
        if browser_origin is not None:
            kwargs["headers"] = {"Origin": browser_origin}
        return requests.post(self.token_url, data=data, timeout=30, **kwargs)

    def code(self, iframe: Iframe, user: str, bots: list[str], **kw: Any) -> str:
        response = self.exchange(iframe, user, bots, **kw)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def client_credentials(self, scope: str = "manage") -> requests.Response:
        return requests.post(
            self.token_url,
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(self.client_id, self.client_secret),
            timeout=30,
        )

    def introspect(self, token: str, auth: tuple[str, str] | None = None) -> requests.Response:
        return requests.post(
            f"{self.base_url}/oauth/introspect",
            data={"token": token},
            auth=auth or (self.client_id, self.client_secret),
            timeout=30,
        )

    def revoke(self, token: str) -> requests.Response:
        return requests.post(
            f"{self.base_url}/oauth/revoke",
            data={"token": token},
            auth=(self.client_id, self.client_secret),
            timeout=30,
        )
