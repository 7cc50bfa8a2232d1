"""Generators that mix random junk with near-valid inputs: strings, forms, JSON, JWTs, headers."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import ECKey, OctKey

from authserver.security import b64url_sha256

# Values that broke parsers somewhere, once: kept as a fixed pool next to random text.
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "null",
    "NaN",
    "Infinity",
    "-Infinity",
    "-1",
    "0",
    "1e309",
    "9" * 400,
    "%00",
    "%",
    "%ff",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    '"',
    "'",
    "\\",
    "\u202e",
    "\ufeff",
    "\uff42\uff4f\uff54",  # fullwidth "bot"
    "\U0001f600",
    "bot_",
    "cf_",
    "ses_",
    "cnv_",
    "msg_",
    "x" * 5000,
    "http://localhost:5001",
    "http://localhost:5001/",
    "HTTP://LOCALHOST:5001",
    "http://localhost:99999",
    "http://[::1",
    "http://xn--80ak6aa92e.com",
    "http://bücher.example",
    'http://a"b.example',
    "null://",
    "javascript:alert(1)",
    "data:text/html,x",
    "eyJ",
    "a.b.c",
    "a..c",
    "....",
    "e30.e30.",
    "e30.e30.e30",
    "S256",
    "plain",
    "bot:",
    "chat",
    "manage",
    "openid",
]

T = TypeVar("T")

FORM_CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "application/octet-stream",
    "",
    "*/*",
    "application/x-www-form-urlencoded; charset=\x00",
]

JSON_CONTENT_TYPES = [
    "application/json",
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "application/merge-patch+json",
    "text/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "",
]

# Header values must be latin-1 without line breaks to travel over HTTP at all.
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)
junk_text = st.one_of(st.text(max_size=40), st.sampled_from(NASTY))
junk_bytes = st.binary(max_size=80)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# Strategies are built once, here: the functions below take ``draw`` and only ever draw from
# these, then apply what they drew to the live values (tokens, codes) of the example.
INDEX = st.integers(0, 1023)
SMALL = st.integers(0, 9)
FLAG = st.booleans()
MUTATIONS = ["flip", "cut", "grow", "case", "nul", "space", "dup"]
Draw = Callable[[st.SearchStrategy[Any]], Any]


def choose(draw: Draw, items: Sequence[T]) -> T:
    """One of ``items`` (shrinks towards the first)."""
    return items[draw(INDEX) % len(items)]


def mutated(draw: Draw, value: str) -> str:
    """``value`` changed a little: a char flipped, cut short, grown, re-cased, NUL inserted."""
    if not value:
        return str(draw(junk_text))
    how = choose(draw, MUTATIONS)
    i = draw(INDEX) % len(value)
    if how == "flip":
        ch = value[i]
        return value[:i] + ("A" if ch != "A" else "B") + value[i + 1 :]
    if how == "cut":
        return value[:i]
    if how == "grow":  # never only whitespace: trailing blanks may fairly be stripped
        return value + "x" + draw(GROWTH)
    if how == "case":
        return value.swapcase() if value.swapcase() != value else value + "x"
    if how == "nul":
        return value[:i] + "\x00" + value[i:]
    if how == "space":  # inside: padding around a token may fairly be stripped
        k = 1 + i % (len(value) - 1) if len(value) > 1 else 1
        return value[:k] + " " + value[k:]
    return value + value


GROWTH = st.text(min_size=1, max_size=10)
JUNK = st.one_of(junk_text, junk_bytes)


def near(draw: Draw, valid: Sequence[str], *, p_valid: int = 2) -> tuple[str | bytes, bool]:
    """(value, is_valid): one of ``valid``, a mutation of one, or junk (text or raw bytes)."""
    roll = draw(SMALL) % (p_valid + 3)
    if roll < p_valid:
        return choose(draw, valid), True
    if roll == p_valid:
        return mutated(draw, choose(draw, valid)), False
    return draw(JUNK), False


def form_body(pairs: list[tuple[str, str | bytes]]) -> bytes:
    """application/x-www-form-urlencoded, with any bytes (non-UTF-8 included) percent-encoded."""
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs).encode()


def encode(value: str | bytes) -> str:
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    return quote_from_bytes(raw, safe="")


EXTRA_NAMES = ["resource", "audience", "x", "client_id", "scope", "\x00", ""]
IGNORED_NAMES = ("resource", "audience", "x", "")
FORM_OPS = st.lists(st.sampled_from(["drop", "dup", "extra", "empty"]), max_size=2)


def form_mutations(
    draw: Draw, pairs: list[tuple[str, str | bytes]], ignored: tuple[str, ...] = IGNORED_NAMES
) -> tuple[list[tuple[str, str | bytes]], bool]:
    """Drop, duplicate, empty or add parameters; returns (pairs, untouched).

    ``ignored``: the names this request's endpoint ignores (an extra one leaves it untouched).
    A form whose changes cancelled out (a duplicate added, then dropped) is untouched.
    """
    out = list(pairs)
    untouched = True
    for op in draw(FORM_OPS):
        if not out:
            break
        i = draw(INDEX) % len(out)
        if op == "drop":
            out.pop(i)
            untouched = False
        elif op == "dup":
            value = draw(junk_text)
            out.insert(i, (out[i][0], value))
            # RFC 6749 §3.1: a parameter sent without a value counts as omitted, not repeated.
            untouched = untouched and (out[i][0] in ignored or value == "")
        elif op == "empty":
            out[i] = (out[i][0], "")
            untouched = False
        else:
            name = choose(draw, EXTRA_NAMES)
            value = draw(junk_text)
            out.append((name, value))
            # RFC 6749 §3.2: a server ignores parameters it does not know (Chatframe takes no
            # resource or audience), so only a repeated or NUL-named one spoils the request;
            # §3.1: one without a value counts as omitted.
            empty = value == "" and "\x00" not in name
            untouched = untouched and (name in ignored or empty)
    if not untouched and sorted(map(repr, out)) == sorted(map(repr, pairs)):
        untouched = True  # the same parameters as before, in another order at most
    return out, untouched


# -- JSON -------------------------------------------------------------------------------------
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**20, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(NASTY),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=12,
)

# Raw JSON texts no encoder writes: deep nesting, lone surrogates, NUL escapes, non-UTF-8.
RAW_JSON = [
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b'{"name": "\\ud800"}',
    b'{"text": "\\udfff x"}',
    b'{"name": "a\\u0000b"}',
    b'{"text": "a\\u0000b"}',
    b'{"name": NaN}',
    b'{"name": Infinity, "limit": -Infinity}',
    b'{"faq": [{"question": "q", "answer": 1e999}]}',
    b'{"name": "\xff\xfe"}',
    b"\xff\xfe{\x00}",
    b'{"name": "x",}',
    b"{",
    b"",
    b"null",
    b"[]",
    b'"text"',
    b'{"text": ' + b"9" * 5000 + b"}",
    b'{"__proto__": {"admin": true}}',
    b'{"name": "x", "name": "y"}',
]


JSON_KINDS = ["valid", "field", "extra", "random", "raw", "bytes"]
KEY_TEXT = st.text(max_size=8)


def json_body(draw: Draw, near_valid: dict[str, Any]) -> tuple[bytes, bool]:
    """(body, structurally valid): the near-valid object, a field of it changed, or junk."""
    kind = choose(draw, JSON_KINDS)
    if kind == "valid":
        return json.dumps(near_valid).encode(), True
    if kind in ("field", "extra"):
        obj = dict(near_valid)
        key = choose(draw, sorted(obj)) if obj and kind == "field" else draw(KEY_TEXT)
        obj[key] = draw(json_values)
        return json.dumps(obj).encode(), False
    if kind == "random":
        return json.dumps(draw(json_values)).encode(), False
    if kind == "raw":
        return choose(draw, RAW_JSON), False
    return draw(junk_bytes), False


# -- JWTs -------------------------------------------------------------------------------------
ATTACKER_KEY = ECKey.generate_key("P-256")
HMAC_KEY = OctKey.import_key(secrets.token_bytes(32))


def sign_raw(header: dict[str, Any], payload: bytes, key: Any) -> str:
    """A compact JWS over exactly ``payload`` (which may hold NaN, 1e999, odd escapes)."""
    return jws.serialize_compact(header, payload, key)


claim_junk = st.one_of(
    json_scalars,
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 10**400, 2**63, -(2**63)]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
CLAIM_OPS = ["junk", "drop", "future", "past"]
CLAIM_CHANGES = st.lists(st.tuples(INDEX, st.sampled_from(CLAIM_OPS)), max_size=3)


def _past_time(value: Any) -> bool:
    """A NumericDate not after now (and not before year -5000, where no server reads a time)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return -95_617_584_000 <= value <= time.time()


def mutated_claims(
    draw: Draw, claims: dict[str, Any], optional: tuple[str, ...] = ()
) -> tuple[dict[str, Any], bool]:
    """Claims with some changed, dropped or added; returns (claims, still valid).

    Dropping one of ``optional`` keeps them valid (RFC 7523 §3: a client assertion's ``iat``
    is OPTIONAL).
    """
    out = dict(claims)
    untouched = True
    names = [*sorted(claims), "nbf", "x"]
    for index, op in draw(CLAIM_CHANGES):
        name = names[index % len(names)]
        if op == "drop":
            if name not in out:
                continue  # nothing dropped: the claims are as they were
            out.pop(name)
            if name in optional:
                continue
        elif op == "future":
            out[name] = time.time() + choose(draw, [120, 3600, 10**9])
            # A later exp is still a valid JWT (a server may cap the lifetime, or not).
            untouched = untouched and name in ("exp", "x")
            continue
        elif op == "past":
            out[name] = choose(draw, [0, -1, time.time() - 3600])
            # An iat or nbf in the past is a valid JWT (only exp bounds its life).
            untouched = untouched and name in ("iat", "nbf", "x")
            continue
        else:
            out[name] = draw(claim_junk)
            if name in ("iat", "nbf") and _past_time(out[name]):
                continue  # junk that happens to be a past time: still a valid JWT
        untouched = untouched and name == "x"
    return out, untouched


JWT_KINDS = ["signed", "signed", "signed", "attacker", "hmac", "none", "header", "tamper", "junk"]
HEADER_NAMES = ["alg", "typ", "kid", "crit", "jwk"]


def jwt_variant(
    draw: Draw,
    header: dict[str, Any],
    claims: dict[str, Any],
    key: Any,
    optional: tuple[str, ...] = (),
) -> tuple[str, bool]:
    """A JWT near ``(header, claims)`` signed by ``key``: mutated, re-signed, broken, or junk;
    ``optional`` claims may be dropped without spoiling it."""
    claims, claims_ok = mutated_claims(draw, claims, optional)
    kind = choose(draw, JWT_KINDS)
    payload = json.dumps(claims).encode()
    if kind == "signed":
        return sign_raw(header, payload, key), claims_ok
    if kind == "attacker":
        return sign_raw({**header, "alg": "ES256"}, payload, ATTACKER_KEY), False
    if kind == "hmac":
        return sign_raw({**header, "alg": "HS256"}, payload, HMAC_KEY), False
    if kind == "none":
        return f"{b64(json.dumps({**header, 'alg': 'none'}).encode())}.{b64(payload)}.", False
    if kind == "header":
        bad_header = {**header, choose(draw, HEADER_NAMES): draw(claim_junk)}
        return f"{b64(json.dumps(bad_header).encode())}.{b64(payload)}.{b64(b'sig')}", False
    token = sign_raw(header, payload, key)
    if kind == "tamper":
        head, _, sig = token.split(".")
        other = json.dumps({**claims, "sub": "mallory"}).encode()
        return ".".join([head, b64(other), sig]), False
    return choose(draw, [str(draw(junk_text)), "a.b.c", token[:-5], token + "."]), False


PROOF_KINDS = ["valid", "valid", "valid", "claims", "header", "jwk", "none", "junk"]
BAD_CRV = ["P-999", "secp256k1", "", "X25519"]
BAD_KTY = ["oct", "RSA", "OKP", ""]
JWK_CHANGES = ["crv", "kty", "private", "x", "attacker"]


def dpop_proof(
    draw: Draw, key: ECKey | None, method: str, url: str, access_token: str | None = None
) -> tuple[str | None, bool]:
    """(proof header value or None, valid): a correct proof for the request, or a near miss."""
    key = key or ATTACKER_KEY
    kind = choose(draw, PROOF_KINDS)
    public = key.as_dict(private=False)
    header: dict[str, Any] = {"alg": "ES256", "typ": "dpop+jwt", "jwk": public}
    claims: dict[str, Any] = {
        "htm": method,
        "htu": url,
        "iat": int(time.time()),
        "jti": secrets.token_urlsafe(12),
    }
    if access_token is not None:
        claims["ath"] = b64url_sha256(access_token)
    if kind == "valid":
        return sign_raw(header, json.dumps(claims).encode(), key), True
    if kind == "none":
        return None, False
    if kind == "claims":
        near_misses = [
            "GET" if method != "GET" else "POST",
            method.lower(),
            url + "?x=1",
            url.replace("http://", "https://"),
            url.replace("127.0.0.1", "127.0.0.1:99999"),
            url.replace("127.0.0.1", "evil.example"),
            "http://[::1",
            "http://bücher.example/oauth/token",
        ]
        value = choose(draw, near_misses) if draw(FLAG) else draw(claim_junk)
        name = choose(draw, sorted(claims))
        claims[name] = value
        # Any non-empty string is a jti (RFC 9449 §4.2): only the other claims can miss.
        valid = name == "jti" and isinstance(value, str) and bool(value)
        return sign_raw(header, json.dumps(claims).encode(), key), valid
    if kind == "header":
        odd = ["jwt", "HS256", "none", "RS256"]
        value = choose(draw, odd) if draw(FLAG) else draw(claim_junk)
        header[choose(draw, ["typ", "alg", "jwk"])] = value
        return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.c2ln", False
    if kind == "jwk":
        bad = dict(public)
        change = choose(draw, JWK_CHANGES)
        if change == "crv":
            bad["crv"] = choose(draw, BAD_CRV)
        elif change == "kty":
            bad["kty"] = choose(draw, BAD_KTY)
        elif change == "private":
            bad["d"] = key.as_dict(private=True)["d"]
        elif change == "x":
            bad["x"] = b64(secrets.token_bytes(32))
        else:
            bad = ATTACKER_KEY.as_dict(private=False)
        header["jwk"] = bad
        # Without a bound key the proof is signed by ATTACKER_KEY: its own jwk is no near miss.
        return sign_raw(header, json.dumps(claims).encode(), key), bad == public
    return choose(draw, [str(draw(header_text)), "a.b.c", "x" * 9000]), False


def path_segment(draw: Draw, valid: Sequence[str]) -> tuple[str, bool]:
    """A percent-encoded path segment: a valid id, a near miss, or junk bytes."""
    value, ok = near(draw, valid)
    return encode(value) or "x", ok and bool(value)


QUERY_PAIRS = st.lists(st.tuples(INDEX, st.one_of(INDEX, junk_text, junk_bytes)), max_size=4)


def query_string(draw: Draw, names: Sequence[str], values: Sequence[str]) -> str:
    """Query parameters from ``names`` with near-valid or junk values, sometimes repeated."""
    all_names = [*names, "x", ""]
    all_values = [*values, ""]
    parts = []
    for name_index, value in draw(QUERY_PAIRS):
        if isinstance(value, int):
            value = all_values[value % len(all_values)]
        parts.append(f"{encode(all_names[name_index % len(all_names)])}={encode(value)}")
    return "&".join(parts)


BASIC_ODD = [
    "Basic !!!not-base64",
    "Basic QQ==",
    "Basic ",
    "Basic",
    "basic " + base64.b64encode(b":").decode(),
    "Bearer x",
    "Digest username=x",
]
BASIC_KINDS = ["right", "right", "right", "id", "secret", "junk", "odd", "none"]


def basic_auth(draw: Draw, client_id: str, secret: str) -> tuple[str | None, bool]:
    """(Authorization header or None, correct): right, wrong or malformed Basic credentials."""

    def header(user: str | bytes, password: str | bytes) -> str:
        pair = [
            v if isinstance(v, bytes) else v.encode("utf-8", "surrogatepass")
            for v in (user, password)
        ]
        return "Basic " + base64.b64encode(pair[0] + b":" + pair[1]).decode()

    kind = choose(draw, BASIC_KINDS)
    if kind == "right":
        return header(client_id, secret), True
    if kind == "id":
        return header(mutated(draw, client_id), secret), False
    if kind == "secret":
        return header(client_id, mutated(draw, secret)), False
    if kind == "junk":
        return header(draw(junk_bytes), draw(junk_bytes)), False
    if kind == "odd":
        return choose(draw, BASIC_ODD), False
    return None, False
