"""Build the unique requests the workloads replay: DPoP proofs, PKCE, codes and refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
PARTNER_USER_ID = "urn:chatframe:token-type:partner-user-id"
FORM = "Content-Type: application/x-www-form-urlencoded"
_local = threading.local()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def basic_auth(client_id: str, secret: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def line(method: str, url: str, body: str = "", headers: Iterable[str] = ()) -> str:
    """One request in replay.lua's format: METHOD, path, body and headers, tab-separated."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return "\t".join([method, path, body, *headers])


class DpopSigner:
    """One iframe's DPoP key; signs proofs quickly (one ECDSA signature, no JOSE library)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        jwk = {
            "crv": "P-256",
            "kty": "EC",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
        self.jkt = b64url(hashlib.sha256(canonical).digest())
        header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": jwk}
        self._header = b64url(json.dumps(header, separators=(",", ":")).encode())

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        claims: dict[str, object] = {
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
            "jti": secrets.token_urlsafe(16),
        }
        if access_token is not None:
            claims["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{self._header}.{payload}".encode()
        r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return f"{self._header}.{payload}.{signature}"


def chat_lines(dpop: DpopSigner, url: str, access_tokens: list[str], count: int) -> list[str]:
    """``count`` GETs of ``url``, spread over ``access_tokens``, each with its own proof."""
    lines = []
    for i in range(count):
        token = access_tokens[i % len(access_tokens)]
        proof = dpop.proof("GET", url, access_token=token)
        lines.append(line("GET", url, "", [f"Authorization: DPoP {token}", f"DPoP: {proof}"]))
    return lines


@dataclass
class Tenant:
    """What the bench seeded in one Chatframe: a client, an ``all_users`` bot, an iframe origin."""

    base_url: str
    client_id: str
    client_secret: str
    bot_id: str
    origin: str
    # Every code is bound to this one DPoP key and PKCE pair, so codes captured by wrk need no
    # bookkeeping of which request they answered; each proof still has its own jti.
    dpop: DpopSigner = field(default_factory=DpopSigner)
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    users: int = 20_000
    _next_user: int = 0

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    @property
    def chat_url(self) -> str:
        return f"{self.base_url}/chat/api/bots/{self.bot_id}"

    @property
    def challenge(self) -> str:
        return b64url(hashlib.sha256(self.verifier.encode()).digest())

    # -- request lines --------------------------------------------------------------------

    def client_credentials_line(self) -> str:
        body = urlencode({"grant_type": "client_credentials", "scope": "manage"})
        return line(
            "POST", self.token_url, body, [FORM, basic_auth(self.client_id, self.client_secret)]
        )

    def exchange_body(self) -> str:
        # Spread over many partner users so the per-user rate limit is not what is measured.
        user = f"bench-user-{self._next_user % self.users}"
        self._next_user += 1
        return urlencode(
            {
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": user,
                "subject_token_type": PARTNER_USER_ID,
                "scope": f"chat bot:{self.bot_id}",
                "origin": self.origin,
                "code_challenge": self.challenge,
                "code_challenge_method": "S256",
                "dpop_jkt": self.dpop.jkt,
            }
        )

    def exchange_lines(self, count: int) -> list[str]:
        auth = basic_auth(self.client_id, self.client_secret)
        return [
            line("POST", self.token_url, self.exchange_body(), [FORM, auth]) for _ in range(count)
        ]

    def redemption_body(self, code: str) -> str:
        return urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": self.verifier,
                "client_id": self.client_id,
                "origin": self.origin,
            }
        )

    def redemption_lines(self, codes: list[str]) -> list[str]:
        return [
            line(
                "POST",
                self.token_url,
                self.redemption_body(code),
                [FORM, "DPoP: " + self.dpop.proof("POST", self.token_url)],
            )
            for code in codes
        ]

    def refresh_body(self, refresh_token: str) -> str:
        return urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self.client_id,
            }
        )

    def refresh_lines(self, refresh_tokens: list[str]) -> list[str]:
        return [
            line(
                "POST",
                self.token_url,
                self.refresh_body(token),
                [FORM, "DPoP: " + self.dpop.proof("POST", self.token_url)],
            )
            for token in refresh_tokens
        ]

    def chat_lines(self, access_tokens: list[str], count: int) -> list[str]:
        """``count`` chat reads, spread over the given sessions' tokens, each with its own proof."""
        return chat_lines(self.dpop, self.chat_url, access_tokens, count)

    # -- preparing codes and sessions with a plain client (before the clock) ------------

    def codes(self, count: int, parallel: int = 16) -> list[str]:
        """Ask for ``count`` embed codes (token exchange), ``parallel`` at a time."""
        return [c for c in self._parallel(self._one_code, count, parallel) if c]

    def sessions(self, count: int, parallel: int = 16) -> list[tuple[str, str]]:
        """Open ``count`` sessions (exchange + redemption): (refresh_token, access_token) pairs."""
        codes = self.codes(count, parallel)
        pairs = self._parallel(lambda i: self._one_session(codes[i]), len(codes), parallel)
        return [p for p in pairs if p]

    def _parallel(self, work, count: int, parallel: int) -> list:  # type: ignore[no-untyped-def]
        with ThreadPoolExecutor(parallel) as pool:
            return list(pool.map(work, range(count)))

    @property
    def _http(self) -> requests.Session:
        if not hasattr(_local, "session"):
            _local.session = requests.Session()
        return _local.session

    def _one_code(self, _: int) -> str | None:
        response = self._http.post(
            self.token_url,
            data=self.exchange_body(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=(self.client_id, self.client_secret),
            timeout=60,
        )
        return response.json()["access_token"] if response.status_code == 200 else None

    def _one_session(self, code: str) -> tuple[str, str] | None:
        response = self._http.post(
            self.token_url,
            data=self.redemption_body(code),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "DPoP": self.dpop.proof("POST", self.token_url),
            },
            timeout=60,
        )
        if response.status_code != 200:
            return None
        body = response.json()
        return body["refresh_token"], body["access_token"]


def check(line_text: str, base_url: str, what: str) -> None:
    """Send one prepared request with a plain client; stop the bench with the server's answer if
    it is not 2xx (the error shape carries no secret), so a broken workload never gets timed."""
    fields = line_text.split("\t")
    headers = dict(h.split(": ", 1) for h in fields[3:])
    response = requests.request(
        fields[0], base_url + fields[1], data=fields[2] or None, headers=headers, timeout=60
    )
    if not 200 <= response.status_code < 300:
        raise SystemExit(
            f"bench: the {what} workload's first request was refused "
            f"({response.status_code}: {response.text[:300]}); fix that before measuring."
        )
