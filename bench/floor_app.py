"""The floor: each hot workload's unavoidable work, and nothing else, as a bare WSGI app.

Not Chatframe. ``bench/floor.py`` serves this with the same HTTP server and settings as
``chatframe serve`` (granian, 2 workers, 4 threads, access log) and measures it with the same
wrk replay next to node-oidc-provider, to answer one question: how fast can a Python worker
answer these requests at all, with the work the protocol and issue 7 require (every proof's
ECDSA verify and ``jti`` write, the exact session/membership read, durable sessions, rotations
and security events) done with the libraries Chatframe uses (cryptography, redis-py, psycopg)
in the fewest round trips we know of, and none of Flask, werkzeug, Authlib, joserfc or
SQLAlchemy? Chatframe cannot be faster than this; how far it is from it is its own overhead.

Everything here is deliberately cheaper than the real thing: no input validation beyond what
the happy path needs, no error shapes, no metrics, a schema with only the indexes the queries
use, a public-key cache keyed by the JWK, one database connection per thread with no pool.
So each figure is an upper bound on what any implementation in this stack can reach.

Configured by environment (set by ``bench/floor.py``): ``FLOOR_DSN`` (psycopg),
``FLOOR_REDIS``, ``FLOOR_PREFIX``, ``FLOOR_KEY`` (PEM path of the ES256 signing key),
``FLOOR_ISSUER`` (the base URL proofs are signed for), ``FLOOR_SECRET_HASH`` (hex keyed SHA-256
of the client secret) and ``FLOOR_HASH_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import psycopg
import redis
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

StartResponse = Callable[..., Any]

DSN = os.environ.get("FLOOR_DSN", "")
PREFIX = os.environ.get("FLOOR_PREFIX", "chatframe-floor")
ISSUER = os.environ.get("FLOOR_ISSUER", "")
HASH_KEY = os.environ.get("FLOOR_HASH_KEY", "floor").encode()
SECRET_HASH = os.environ.get("FLOOR_SECRET_HASH", "")
CLIENT_ID = "cf_floor"
CUSTOMER = "cus_floor"
BOT = "bot_floor"
LEEWAY = 120
SHA256 = ec.ECDSA(hashes.SHA256())

_local = threading.local()
_store = redis.Redis.from_url(os.environ.get("FLOOR_REDIS", "redis://127.0.0.1:6379/0"))
_hit = _store.register_script(
    "local c = {} for i, k in ipairs(KEYS) do c[i] = redis.call('INCR', k) "
    "redis.call('EXPIRE', k, ARGV[1]) end return c"
)
_consume = _store.register_script(
    "local new = redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) and 1 or 0 "
    "local v = redis.call('GET', KEYS[1]) if v then redis.call('DEL', KEYS[1]) end "
    "return {v, new}"
)
_public_keys: dict[tuple[str, str], ec.EllipticCurvePublicKey] = {}
_verified: dict[str, dict[str, Any]] = {}
_signing_key: ec.EllipticCurvePrivateKey | None = None


# -- primitives ---------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keyed_hash(value: str) -> str:
    return hmac.new(HASH_KEY, value.encode(), hashlib.sha256).hexdigest()


def db() -> psycopg.Connection[Any]:
    conn: psycopg.Connection[Any] | None = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(DSN, autocommit=True)
    return conn


def key(kind: str, name: str) -> str:
    return f"{PREFIX}:{kind}:{name}"


def signing_key() -> ec.EllipticCurvePrivateKey:
    global _signing_key
    if _signing_key is None:
        with open(os.environ["FLOOR_KEY"], "rb") as pem:
            loaded = serialization.load_pem_private_key(pem.read(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        _signing_key = loaded
    return _signing_key


def sign(claims: dict[str, Any], typ: str) -> str:
    header = b64url(json.dumps({"alg": "ES256", "kid": "k1", "typ": typ}).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}"
    r, s = decode_dss_signature(signing_key().sign(signing_input.encode(), SHA256))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def verify_compact(token: str, public: ec.EllipticCurvePublicKey) -> bool:
    signing_input, _, signature = token.rpartition(".")
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, signing_input.encode(), SHA256)
    except InvalidSignature:
        return False
    return True


def access_claims(token: str) -> dict[str, Any] | None:
    """The access token's claims; its signature verified once per token (as Chatframe does)."""
    claims = _verified.get(token)
    if claims is None:
        if not verify_compact(token, signing_key().public_key()):
            return None
        claims = json.loads(unb64url(token.split(".")[1]))
        _verified[token] = claims
    return claims if claims["exp"] > time.time() else None


def proof_checked(proof: str, method: str, url: str, token: str | None = None) -> str | None:
    """Verify a DPoP proof (signature, typ, htm, htu, iat, ath); its key's thumbprint or None.

    The ``jti`` is recorded by the caller, in the round trip it makes anyway."""
    header_b64, payload_b64, _ = proof.split(".")
    header = json.loads(unb64url(header_b64))
    jwk = header["jwk"]
    if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
        return None
    public = _public_keys.get((jwk["x"], jwk["y"]))
    if public is None:
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(unb64url(jwk["x"]), "big"),
            int.from_bytes(unb64url(jwk["y"]), "big"),
            ec.SECP256R1(),
        )
        public = _public_keys[(jwk["x"], jwk["y"])] = numbers.public_key()
    if not verify_compact(proof, public):
        return None
    claims = json.loads(unb64url(payload_b64))
    if claims["htm"] != method or claims["htu"] != url or not claims.get("jti"):
        return None
    if abs(time.time() - claims["iat"]) > LEEWAY:
        return None
    if token is not None and claims.get("ath") != b64url(hashlib.sha256(token.encode()).digest()):
        return None
    canonical = json.dumps(
        {"crv": "P-256", "kty": "EC", "x": jwk["x"], "y": jwk["y"]},
        separators=(",", ":"),
        sort_keys=True,
    )
    _local.jti = claims["jti"]
    return b64url(hashlib.sha256(canonical.encode()).digest())


def client_ok(environ: dict[str, Any]) -> bool:
    scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme != "Basic":
        return False
    client_id, _, secret = base64.b64decode(value).decode().partition(":")
    return client_id == CLIENT_ID and hmac.compare_digest(keyed_hash(secret), SECRET_HASH)


def form(environ: dict[str, Any]) -> dict[str, str]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return dict(parse_qsl(environ["wsgi.input"].read(length).decode()))


def token_pair(session_id: str, user: str, bots: list[str], jkt: str) -> dict[str, Any]:
    now = int(time.time())
    access = sign(
        {
            "iss": ISSUER,
            "aud": f"{ISSUER}/chat",
            "sub": user,
            "sid": session_id,
            "bots": bots,
            "cnf": {"jkt": jkt},
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(12),
        },
        "at+jwt",
    )
    id_token = sign(
        {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": user,
            "sid": session_id,
            "iat": now,
            "exp": now + 300,
        },
        "JWT",
    )
    return {"access_token": access, "id_token": id_token, "token_type": "DPoP", "expires_in": 300}


# -- the workloads --------------------------------------------------------------------------

ACCESS_READ = """
SELECT u.id, b.enabled, b.audience, m.user_id
FROM bots b
LEFT JOIN partner_users u ON u.customer_id = b.customer_id AND u.external_id = %(user)s
LEFT JOIN memberships m ON m.bot_id = b.id AND m.user_id = u.id
WHERE b.id = %(bot)s AND b.customer_id = %(customer)s
"""

NEW_USER_AND_EVENT = """
WITH u AS (
  INSERT INTO partner_users (id, customer_id, external_id) VALUES (%(uid)s, %(customer)s, %(user)s)
  ON CONFLICT (customer_id, external_id) DO NOTHING RETURNING id
)
INSERT INTO security_events (type, customer_id, client_id, data)
SELECT 'token_exchange', %(customer)s, %(client)s, %(data)s FROM u
"""

EVENT = """
INSERT INTO security_events (type, customer_id, client_id, data)
VALUES ('token_exchange', %(customer)s, %(client)s, %(data)s)
"""

SESSION_REFRESH_EVENT = """
WITH s AS (
  INSERT INTO sessions (id, customer_id, partner_user_pk, bots, dpop_jkt, expires_at)
  VALUES (%(sid)s, %(customer)s, %(uid)s, %(bots)s, %(jkt)s, now() + interval '1 day')
  RETURNING id
), r AS (
  INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
  SELECT %(refresh)s, id, now() + interval '1 day' FROM s
)
INSERT INTO security_events (type, customer_id, client_id, data)
SELECT 'code_redeemed', %(customer)s, %(client)s, %(data)s FROM s
"""

REFRESH_READ = """
SELECT r.rotated_at, s.id, s.partner_user_pk, s.revoked_at, s.expires_at, s.dpop_jkt, s.bots,
       b.enabled, b.audience, m.user_id
FROM refresh_tokens r
JOIN sessions s ON s.id = r.session_id
JOIN bots b ON b.id = %(bot)s AND b.customer_id = s.customer_id
LEFT JOIN memberships m ON m.bot_id = b.id AND m.user_id = s.partner_user_pk
WHERE r.token_hash = %(hash)s
"""

ROTATE = """
WITH old AS (
  UPDATE refresh_tokens SET rotated_at = now()
  WHERE token_hash = %(hash)s AND rotated_at IS NULL RETURNING session_id
), new AS (
  INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
  SELECT %(next)s, session_id, now() + interval '1 day' FROM old
), ev AS (
  INSERT INTO security_events (type, customer_id, client_id, data)
  SELECT 'refresh', %(customer)s, %(client)s, %(data)s FROM old
)
SELECT count(*) FROM old
"""

CHAT_READ = """
SELECT s.revoked_at, s.expires_at, s.partner_user_pk, b.name, b.enabled, b.audience, m.user_id
FROM sessions s
JOIN bots b ON b.id = %(bot)s AND b.customer_id = s.customer_id
LEFT JOIN memberships m ON m.bot_id = b.id AND m.user_id = s.partner_user_pk
WHERE s.id = %(sid)s
"""


def allowed(enabled: bool, audience: str, member: str | None) -> bool:
    return bool(enabled) and (audience == "all_users" or member is not None)


def client_credentials(environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    params = form(environ)
    if params.get("grant_type") != "client_credentials" or not client_ok(environ):
        return 400, {"error": "invalid_client"}
    now = int(time.time())
    token = sign(
        {
            "iss": ISSUER,
            "aud": f"{ISSUER}/api",
            "sub": CLIENT_ID,
            "scope": params.get("scope"),
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(12),
        },
        "at+jwt",
    )
    return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 300}


def exchange(environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    params = form(environ)
    if not client_ok(environ):
        return 401, {"error": "invalid_client"}
    user, bot = params["subject_token"], params["scope"].split("bot:")[1]
    counts = _hit(keys=[key("rl", CLIENT_ID), key("rl", f"{CLIENT_ID}:{user}")], args=[60])
    if max(counts) > 1_000_000:
        return 429, {"error": "slow_down"}
    conn = db()
    row = conn.execute(ACCESS_READ, {"user": user, "bot": bot, "customer": CUSTOMER}).fetchone()
    if row is None:
        return 400, {"error": "invalid_target"}
    uid, enabled, audience, member = row
    data = json.dumps({"user": user, "bots": [bot], "ip": environ.get("REMOTE_ADDR")})
    args = {"customer": CUSTOMER, "client": CLIENT_ID, "user": user, "data": data}
    if uid is None:
        uid = "pu_" + secrets.token_hex(8)
        conn.execute(NEW_USER_AND_EVENT, {**args, "uid": uid})
    elif not allowed(enabled, audience, member):
        return 400, {"error": "access_denied"}
    else:
        conn.execute(EVENT, args)
    code = secrets.token_urlsafe(32)
    value = {
        "client_id": CLIENT_ID,
        "origin": params["origin"],
        "user": uid,
        "bots": [bot],
        "challenge": params["code_challenge"],
        "dpop_jkt": params["dpop_jkt"],
    }
    _store.set(key("code", keyed_hash(code)), json.dumps(value), px=300_000)
    return 200, {
        "access_token": code,
        "issued_token_type": "urn:chatframe:embed-code",
        "token_type": "N_A",
        "expires_in": 300,
    }


Answer = tuple[int, dict[str, Any]]


def spent_code(
    environ: dict[str, Any],
) -> tuple[dict[str, Any], str, None] | tuple[None, None, Answer]:
    """The proof checked and the code spent with its jti (one script): (code, jkt, None), or
    (None, None, the refusal)."""
    params = form(environ)
    jkt = proof_checked(environ.get("HTTP_DPOP", ""), "POST", environ["floor.url"])
    if jkt is None:
        return None, None, (400, {"error": "invalid_dpop_proof"})
    raw, new = _consume(
        keys=[key("code", keyed_hash(params["code"])), key("jti", _local.jti)],
        args=[(LEEWAY * 2 + 5) * 1000],
    )
    if raw is None or not new:
        return None, None, (400, {"error": "invalid_grant"})
    code = json.loads(raw)
    challenge = b64url(hashlib.sha256(params["code_verifier"].encode()).digest())
    if (
        code["origin"] != params["origin"]
        or code["dpop_jkt"] != jkt
        or not hmac.compare_digest(challenge, code["challenge"])
    ):
        return None, None, (400, {"error": "invalid_grant"})
    return code, jkt, None


def redemption(environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    code, jkt, refused = spent_code(environ)
    if refused is not None:
        return refused
    assert code is not None and jkt is not None
    bot = code["bots"][0]
    conn = db()
    row = conn.execute(
        "SELECT b.enabled, b.audience, m.user_id FROM bots b "
        "LEFT JOIN memberships m ON m.bot_id = b.id AND m.user_id = %(uid)s "
        "WHERE b.id = %(bot)s AND b.customer_id = %(customer)s",
        {"uid": code["user"], "bot": bot, "customer": CUSTOMER},
    ).fetchone()
    if row is None or not allowed(*row):
        return 400, {"error": "invalid_grant"}
    session_id = "ses_" + secrets.token_hex(12)
    refresh = secrets.token_urlsafe(32)
    conn.execute(
        SESSION_REFRESH_EVENT,
        {
            "sid": session_id,
            "customer": CUSTOMER,
            "uid": code["user"],
            "bots": json.dumps([bot]),
            "jkt": jkt,
            "refresh": keyed_hash(refresh),
            "client": CLIENT_ID,
            "data": json.dumps({"session": session_id, "ip": environ.get("REMOTE_ADDR")}),
        },
    )
    body = token_pair(session_id, code["user"], [bot], jkt)
    body["refresh_token"] = refresh
    return 200, body


def refresh(environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    params = form(environ)
    jkt = proof_checked(environ.get("HTTP_DPOP", ""), "POST", environ["floor.url"])
    if jkt is None or not _store.set(key("jti", _local.jti), "1", nx=True, px=245_000):
        return 400, {"error": "invalid_dpop_proof"}
    token_hash = keyed_hash(params["refresh_token"])
    conn = db()
    row = conn.execute(REFRESH_READ, {"hash": token_hash, "bot": BOT}).fetchone()
    if row is None:
        return 400, {"error": "invalid_grant"}
    rotated, sid, uid, revoked, expires, bound, bots, enabled, audience, member = row
    if rotated is not None or revoked is not None or bound != jkt:
        return 400, {"error": "invalid_grant"}
    if expires.timestamp() <= time.time():
        return 400, {"error": "invalid_grant"}
    if not allowed(enabled, audience, member):
        return 400, {"error": "invalid_grant"}
    successor = secrets.token_urlsafe(32)
    (claimed,) = conn.execute(
        ROTATE,
        {
            "hash": token_hash,
            "next": keyed_hash(successor),
            "customer": CUSTOMER,
            "client": CLIENT_ID,
            "data": json.dumps({"session": sid}),
        },
    ).fetchone()
    if not claimed:
        return 400, {"error": "invalid_grant"}
    body = token_pair(sid, uid, bots, jkt)
    body["refresh_token"] = successor
    return 200, body


def chat_claims(environ: dict[str, Any], bot: str) -> tuple[dict[str, Any] | None, Answer | None]:
    """The access token's claims once it and its proof check out (the jti not yet written)."""
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    claims = access_claims(token) if scheme == "DPoP" else None
    if claims is None or bot not in claims["bots"]:
        return None, (401, {"error": "invalid_token"})
    jkt = proof_checked(environ.get("HTTP_DPOP", ""), "GET", environ["floor.url"], token)
    if jkt is None or jkt != claims["cnf"]["jkt"]:
        return None, (401, {"error": "invalid_dpop_proof"})
    return claims, None


def chat(environ: dict[str, Any], bot: str) -> tuple[int, dict[str, Any]]:
    claims, refused = chat_claims(environ, bot)
    if refused is not None:
        return refused
    assert claims is not None
    if not _store.set(key("jti", _local.jti), "1", nx=True, px=245_000):
        return 401, {"error": "invalid_dpop_proof"}
    row = db().execute(CHAT_READ, {"bot": bot, "sid": claims["sid"]}).fetchone()
    if row is None:
        return 401, {"error": "invalid_token"}
    revoked, expires, _uid, name, enabled, audience, member = row
    if revoked is not None or expires.timestamp() <= time.time():
        return 401, {"error": "invalid_token"}
    if not allowed(enabled, audience, member):
        return 403, {"error": "insufficient_scope"}
    return 200, {"id": bot, "name": name}


# -- the same work in the fewest round trips we can think of ----------------------------------
#
# Under /min/...: every check and write folded into one Redis script and one PostgreSQL
# statement per workload (the chat check into one Redis script, its session and bot state
# kept in Redis as a design with no PostgreSQL read would keep them).

_EXCHANGE_MIN_LUA = _store.register_script(
    "local a = redis.call('INCR', KEYS[1]) redis.call('EXPIRE', KEYS[1], ARGV[1]) "
    "local b = redis.call('INCR', KEYS[2]) redis.call('EXPIRE', KEYS[2], ARGV[1]) "
    "redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3]) return {a, b}"
)
_CHAT_MIN_LUA = _store.register_script(
    "if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return -1 end "
    "local s = redis.call('HMGET', KEYS[2], 'revoked', 'exp', 'user') "
    "if not s[2] then return 0 end "
    "local b = redis.call('HMGET', KEYS[3], 'enabled', 'audience', 'name') "
    "local m = redis.call('SISMEMBER', KEYS[4], s[3] or '') "
    "return {s[1] or '', s[2], b[1] or '', b[2] or '', b[3] or '', m}"
)
EXCHANGE_MIN = """
WITH a AS (
  SELECT 1 FROM bots b
  LEFT JOIN partner_users u ON u.customer_id = b.customer_id AND u.external_id = %(user)s
  LEFT JOIN memberships m ON m.bot_id = b.id AND m.user_id = u.id
  WHERE b.id = %(bot)s AND b.customer_id = %(customer)s AND b.enabled
    AND (b.audience = 'all_users' OR m.user_id IS NOT NULL)
), u AS (
  INSERT INTO partner_users (id, customer_id, external_id)
  SELECT %(uid)s, %(customer)s, %(user)s FROM a
  ON CONFLICT (customer_id, external_id) DO UPDATE SET external_id = EXCLUDED.external_id
  RETURNING id
), e AS (
  INSERT INTO security_events (type, customer_id, client_id, data)
  SELECT 'token_exchange', %(customer)s, %(client)s, %(data)s FROM u
)
SELECT id FROM u
"""
REDEMPTION_MIN = """
WITH a AS (
  SELECT 1 FROM bots b LEFT JOIN memberships m ON m.bot_id = b.id AND m.user_id = %(uid)s
  WHERE b.id = %(bot)s AND b.customer_id = %(customer)s AND b.enabled
    AND (b.audience = 'all_users' OR m.user_id IS NOT NULL)
), s AS (
  INSERT INTO sessions (id, customer_id, partner_user_pk, bots, dpop_jkt, expires_at)
  SELECT %(sid)s, %(customer)s, %(uid)s, %(bots)s, %(jkt)s, now() + interval '1 day' FROM a
  RETURNING id
), r AS (
  INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
  SELECT %(refresh)s, id, now() + interval '1 day' FROM s
), e AS (
  INSERT INTO security_events (type, customer_id, client_id, data)
  SELECT 'code_redeemed', %(customer)s, %(client)s, %(data)s FROM s
)
SELECT count(*) FROM s
"""
REFRESH_MIN = """
WITH old AS (
  UPDATE refresh_tokens r SET rotated_at = now()
  FROM sessions s
  JOIN bots b ON b.id = %(bot)s AND b.customer_id = s.customer_id
  LEFT JOIN memberships m ON m.bot_id = b.id AND m.user_id = s.partner_user_pk
  WHERE r.token_hash = %(hash)s AND r.rotated_at IS NULL AND s.id = r.session_id
    AND s.revoked_at IS NULL AND s.expires_at > now() AND s.dpop_jkt = %(jkt)s
    AND b.enabled AND (b.audience = 'all_users' OR m.user_id IS NOT NULL)
  RETURNING s.id, s.partner_user_pk, s.bots
), new AS (
  INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
  SELECT %(next)s, id, now() + interval '1 day' FROM old
), ev AS (
  INSERT INTO security_events (type, customer_id, client_id, data)
  SELECT 'refresh', %(customer)s, %(client)s, %(data)s FROM old
)
SELECT id, partner_user_pk, bots FROM old
"""


def exchange_min(environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    params = form(environ)
    if not client_ok(environ):
        return 401, {"error": "invalid_client"}
    user, bot = params["subject_token"], params["scope"].split("bot:")[1]
    code = secrets.token_urlsafe(32)
    uid = "pu_" + secrets.token_hex(8)
    value = {
        "client_id": CLIENT_ID, "origin": params["origin"], "user": uid, "bots": [bot],
        "challenge": params["code_challenge"], "dpop_jkt": params["dpop_jkt"],
    }  # fmt: skip
    counts = _EXCHANGE_MIN_LUA(
        keys=[
            key("rl", CLIENT_ID),
            key("rl", f"{CLIENT_ID}:{user}"),
            key("code", keyed_hash(code)),
        ],
        args=[60, json.dumps(value), 300_000],
    )
    if max(counts) > 1_000_000:
        return 429, {"error": "slow_down"}
    data = json.dumps({"user": user, "bots": [bot], "ip": environ.get("REMOTE_ADDR")})
    row = db().execute(
        EXCHANGE_MIN,
        {"customer": CUSTOMER, "client": CLIENT_ID, "user": user, "bot": bot, "uid": uid,
         "data": data},
    ).fetchone()  # fmt: skip
    if row is None:
        return 400, {"error": "access_denied"}
    return 200, {"access_token": code, "issued_token_type": "urn:chatframe:embed-code",
                 "token_type": "N_A", "expires_in": 300}  # fmt: skip


def redemption_min(environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    code, jkt, refused = spent_code(environ)
    if refused is not None:
        return refused
    assert code is not None and jkt is not None
    session_id = "ses_" + secrets.token_hex(12)
    refresh_token = secrets.token_urlsafe(32)
    (made,) = db().execute(
        REDEMPTION_MIN,
        {"sid": session_id, "customer": CUSTOMER, "uid": code["user"], "bot": code["bots"][0],
         "bots": json.dumps(code["bots"]), "jkt": jkt, "refresh": keyed_hash(refresh_token),
         "client": CLIENT_ID, "data": json.dumps({"session": session_id})},
    ).fetchone()  # fmt: skip
    if not made:
        return 400, {"error": "invalid_grant"}
    body = token_pair(session_id, code["user"], code["bots"], jkt)
    body["refresh_token"] = refresh_token
    return 200, body


def refresh_min(environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    params = form(environ)
    jkt = proof_checked(environ.get("HTTP_DPOP", ""), "POST", environ["floor.url"])
    if jkt is None or not _store.set(key("jti", _local.jti), "1", nx=True, px=245_000):
        return 400, {"error": "invalid_dpop_proof"}
    successor = secrets.token_urlsafe(32)
    row = db().execute(
        REFRESH_MIN,
        {"hash": keyed_hash(params["refresh_token"]), "next": keyed_hash(successor), "bot": BOT,
         "jkt": jkt, "customer": CUSTOMER, "client": CLIENT_ID, "data": "{}"},
    ).fetchone()  # fmt: skip
    if row is None:
        return 400, {"error": "invalid_grant"}
    sid, uid, bots = row
    body = token_pair(sid, uid, bots, jkt)
    body["refresh_token"] = successor
    return 200, body


def chat_min(environ: dict[str, Any], bot: str) -> tuple[int, dict[str, Any]]:
    claims, refused = chat_claims(environ, bot)
    if refused is not None:
        return refused
    assert claims is not None
    found = _CHAT_MIN_LUA(
        keys=[key("jti", _local.jti), key("session", claims["sid"]), key("bot", bot),
              key("members", bot)],
        args=[245_000],
    )  # fmt: skip
    if found == -1:
        return 401, {"error": "invalid_dpop_proof"}
    if found == 0:
        return 401, {"error": "invalid_token"}
    revoked, expires, enabled, audience, name, member = found
    if revoked or float(expires) <= time.time():
        return 401, {"error": "invalid_token"}
    if enabled != b"1" or (audience != b"all_users" and not member):
        return 403, {"error": "insufficient_scope"}
    return 200, {"id": bot, "name": name.decode()}


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    environ["floor.url"] = ISSUER + path
    fewest = path.startswith("/min/")
    if fewest:
        path = path[4:]
    if path == "/healthz":
        status, body = 200, {"status": "ok"}
    elif path == "/oauth/token":
        grant = form_peek(environ)
        handler = (FEWEST if fewest else GRANTS).get(grant)
        status, body = handler(environ) if handler else (400, {"error": "unsupported_grant_type"})
    elif path.startswith("/chat/api/bots/"):
        status, body = (chat_min if fewest else chat)(environ, path.rsplit("/", 1)[1])
    else:
        status, body = 404, {"error": "not_found"}
    data = json.dumps(body).encode()
    start_response(
        f"{status} {'OK' if status == 200 else 'Error'}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [data]


def form_peek(environ: dict[str, Any]) -> str:
    """The grant type, the body kept for the grant (read once)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = _Body(body)
    marker = body.find(b"grant_type=")
    if marker < 0:
        return ""
    end = body.find(b"&", marker)
    value = body[marker + 11 : end if end >= 0 else None].decode()
    return {
        "client_credentials": "cc",
        "authorization_code": "code",
        "refresh_token": "refresh",
    }.get(value, "exchange" if "token-exchange" in value else "")


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, _: int = -1) -> bytes:
        return self.data


GRANTS: dict[str, Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]] = {
    "cc": client_credentials,
    "exchange": exchange,
    "code": redemption,
    "refresh": refresh,
}
FEWEST: dict[str, Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]] = {
    "cc": client_credentials,
    "exchange": exchange_min,
    "code": redemption_min,
    "refresh": refresh_min,
}
