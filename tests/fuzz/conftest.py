"""Fuzz fixtures: an in-process Chatframe per backend, seeded actors, and the response oracle.

Every fuzz test sends its generated requests through ``World.send``, which counts them and
checks what any user or attacker would notice: never a 5xx, errors in the OAuth shape, no
stack trace or secret in the body, and no success where none is possible.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, settings
from joserfc.jwk import ECKey

from authserver.extensions import db
from tests.conftest import PG_ADMIN_URL, REQUIRE_SERVICES, Storage, build_app, free_port
from tests.embed import PARTNER_USER_ID, TOKEN_EXCHANGE, dpop_proof

# One budget knob: Hypothesis examples per fuzz test and backend (each sends >= 1 request).
EXAMPLES = int(os.environ.get("CHATFRAME_FUZZ_EXAMPLES", "1450"))
ORIGIN = "http://localhost:5001"
# Sessions without a DPoP key: cheaper to mint, for uses that never need a proof.
UNBOUND = ("bearer", "revocable")

settings.register_profile(
    "ci",
    max_examples=EXAMPLES,
    derandomize=True,  # the same inputs on every CI run: a failure is reproducible
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Report the first failing request as it was, unshrunk: quicker when triaging a failure.
settings.register_profile(
    "triage", settings.get_profile("ci"), phases=[Phase.explicit, Phase.generate]
)
settings.load_profile(
    os.environ.get("CHATFRAME_FUZZ_PROFILE") or ("ci" if REQUIRE_SERVICES else "dev")
)

# Things no response may ever contain, whatever was asked.
_TRACE_MARKERS = (b"Traceback (most recent call last)", b'File "/', b"sqlalchemy.exc", b"psycopg.")
# Paths whose errors are API errors and must be JSON in the OAuth error shape.
_JSON_PREFIXES = ("/oauth/", "/api/v1/", "/chat/api/", "/.well-known/")


@dataclass
class Request:
    """One generated HTTP request, and what the oracle may expect of its answer."""

    method: str
    path: str  # percent-encoded, ASCII
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    success_possible: bool = True  # False: a 2xx would be a security bug
    endpoint: str = ""  # a label for the request counts

    def describe(self) -> str:
        return (
            f"{self.method} {self.path}{'?' + self.query if self.query else ''} "
            f"headers={self.headers!r} body={self.body[:1000]!r}"
        )


@dataclass
class Tally:
    """What the fuzz run did: requests per endpoint label."""

    requests: Counter[str] = field(default_factory=Counter)


TALLY = Tally()


@dataclass
class ChatSession:
    """An iframe's live session: DPoP key, tokens, and a conversation of its own."""

    key: ECKey | None
    access_token: str
    refresh_token: str
    conversation_id: str  # "" for sessions that never chat
    minted_at: float


@dataclass
class World:
    """One backend's app, seeded with a chat tenant and a management tenant."""

    backend: str
    app: Flask
    http: FlaskClient
    issuer: str
    client_id: str
    client_secret: str
    jwt_client_id: str
    jwt_client_key: ECKey
    bots: dict[str, str]
    manage_client_id: str
    manage_client_secret: str
    manage_bots: dict[str, str]
    manage_customer_id: str
    never_echo: list[str] = field(default_factory=list)
    _sessions: dict[str, ChatSession] = field(default_factory=dict)
    _manage_token: tuple[str, float] | None = None
    _last_exception: BaseException | None = None

    def __repr__(self) -> str:  # a failing example prints its arguments: never the secrets
        return f"World({self.backend})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # Hypothesis's printer
        printer.text(repr(self))

    # -- sending and checking -------------------------------------------------------------
    def send(self, request: Request) -> Any:
        """Send one request through the test client and hold its answer to the oracle."""
        self._last_exception = None
        url = request.path + (f"?{request.query}" if request.query else "")
        response = self.http.open(
            url,
            method=request.method,
            # A fresh list (the test client adds to the one it is given), as the wire carries it.
            headers=[(name, on_the_wire(value)) for name, value in request.headers],
            data=request.body,
            base_url=self.issuer,
        )
        TALLY.requests[request.endpoint or request.path.split("/")[1]] += 1
        try:
            self.check(request, response)
        finally:
            response.close()  # file responses hold their file open until closed
        return response

    def check(self, request: Request, response: Any) -> None:
        body: bytes = response.get_data()
        where = f"{response.status_code} for {request.describe()}\n-> {body[:500]!r}"
        if response.status_code >= 500:
            raise AssertionError(f"server error {where} ({self._last_exception!r})")
        for marker in _TRACE_MARKERS:
            assert marker not in body, f"stack trace in {where}"
        for value in self.never_echo:
            assert value.encode() not in body, f"a secret is echoed in {where}"
        is_json = response.mimetype == "application/json"
        if response.status_code >= 400 and request.path.startswith(_JSON_PREFIXES):
            assert is_json, f"non-JSON API error {where}"
        if is_json and response.status_code >= 400 and request.method != "HEAD":
            payload = response.get_json()
            assert isinstance(payload, dict), where
            assert isinstance(payload.get("error"), str) and payload["error"], where
            description = payload.get("error_description")
            assert isinstance(description, str) and description.strip(), where
        if request.method == "OPTIONS" and response.status_code < 300:
            # Flask answers OPTIONS itself with the allowed methods: nothing else may leak.
            assert not body, f"OPTIONS with a body {where}"
        elif not request.success_possible:
            assert not 200 <= response.status_code < 300, f"impossible success {where}"
            if is_json:
                payload = response.get_json(silent=True)
                if isinstance(payload, dict):
                    leaked = {"access_token", "refresh_token", "id_token"} & payload.keys()
                    assert not leaked, f"tokens issued in {where}"

    # -- live credentials the generators build near-valid requests from -------------------
    def chat_session(self, kind: str = "dpop") -> ChatSession:
        """A live session of alice for one use (``UNBOUND`` kinds have no DPoP key); re-minted."""
        current = self._sessions.get(kind)
        if current is None or time.time() - current.minted_at > 240:
            current = self._sessions[kind] = self._mint_session(kind not in UNBOUND, kind == "dpop")
        return current

    def spare_key(self) -> ECKey:
        """A DPoP key for a one-off code (generating keys per example costs time: reuse a few)."""
        self._keys = getattr(self, "_keys", None) or [ECKey.generate_key("P-256") for _ in range(4)]
        return self._keys[secrets.randbelow(4)]

    def replace_manage_bot(self, bot_id: str) -> None:
        """A fuzzed DELETE removed a seeded bot: seed another so near-valid ids stay live."""
        from authserver import registry

        with self.app.app_context():
            customer = registry.get_customer(self.manage_customer_id)
            bot = registry.create_bot(customer, "Replacement")
            name = next(k for k, v in self.manage_bots.items() if v == bot_id)
            self.manage_bots[name] = bot.id
            db.session.remove()

    def forget_session(self, kind: str) -> None:
        """The session may have ended: mint a new one next time."""
        self._sessions.pop(kind, None)

    def basic_manage(self) -> str:
        return basic(self.manage_client_id, self.manage_client_secret)["Authorization"]

    def manage_token(self) -> str:
        if self._manage_token is None or time.time() - self._manage_token[1] > 240:
            response = self.http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "scope": "manage"},
                headers=basic(self.manage_client_id, self.manage_client_secret),
            )
            TALLY.requests["token: client_credentials (setup)"] += 1
            assert response.status_code == 200, response.get_data()
            self._manage_token = (response.get_json()["access_token"], time.time())
            self.never_echo.append(self._manage_token[0])
        return self._manage_token[0]

    def code(self, *, dpop_key: ECKey | None, verifier: str, user: str = "alice") -> str:
        """A fresh one-time embed code for ``user`` and the welcome + billing bots."""
        from authserver.security import b64url_sha256

        form = {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": user,
            "subject_token_type": PARTNER_USER_ID,
            "scope": f"chat bot:{self.bots['welcome']} bot:{self.bots['billing']}",
            "origin": ORIGIN,
            "code_challenge": b64url_sha256(verifier),
            "code_challenge_method": "S256",
        }
        if dpop_key is not None:
            form["dpop_jkt"] = dpop_key.thumbprint()
        response = self.http.post(
            "/oauth/token", data=form, headers=basic(self.client_id, self.client_secret)
        )
        TALLY.requests["token: exchange (setup)"] += 1
        assert response.status_code == 200, response.get_data()
        code = str(response.get_json()["access_token"])
        self.never_echo.append(code)
        return code

    def _mint_session(self, bound: bool, chat: bool) -> ChatSession:
        """Exchange + redemption (+ a conversation of its own when it will ``chat``)."""
        key = ECKey.generate_key("P-256") if bound else None
        verifier = secrets.token_urlsafe(48)
        code = self.code(dpop_key=key, verifier=verifier)
        headers = {}
        if key is not None:
            headers["DPoP"] = dpop_proof(key, "POST", f"{self.issuer}/oauth/token")
        response = self.http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "client_id": self.client_id,
                "origin": ORIGIN,
            },
            headers=headers,
        )
        TALLY.requests["token: authorization_code (setup)"] += 1
        assert response.status_code == 200, response.get_data()
        tokens = response.get_json()
        access = tokens["access_token"]
        self.never_echo.extend([access, tokens["refresh_token"]])
        conversation = self._conversation(key, access, tokens["token_type"]) if chat else ""
        return ChatSession(key, access, tokens["refresh_token"], conversation, time.time())

    def _conversation(self, key: ECKey | None, access: str, token_type: str) -> str:
        url = f"/chat/api/bots/{self.bots['welcome']}/conversations"
        auth = {"Authorization": f"{token_type} {access}"}
        if key is not None:
            auth["DPoP"] = dpop_proof(key, "POST", self.issuer + url, access_token=access)
        created = self.http.post(url, headers=auth, json={})
        TALLY.requests["chat: create conversation (setup)"] += 1
        assert created.status_code == 201, created.get_data()
        return str(created.get_json()["id"])


def on_the_wire(value: str) -> str:
    """A header value as a server receives it: latin-1 text without line breaks.

    Generated tokens may hold any text; a real client can only send its UTF-8 bytes (which a
    WSGI server reads as latin-1), and a line break would end the header, so it is dropped.
    """
    if "\r" in value or "\n" in value:
        value = value.replace("\r", "").replace("\n", "")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogatepass").decode("latin-1")
    return value


def basic(client_id: str, secret: str) -> dict[str, str]:
    import base64

    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _no_fsync(app: Flask) -> None:
    """A throw-away fuzz database need not survive a power cut: skip fsync to save time."""
    from sqlalchemy import event

    with app.app_context():

        @event.listens_for(db.engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=OFF")

        db.engine.dispose()


def _seed(app: Flask) -> dict[str, Any]:
    from authserver import registry

    with app.app_context():
        customer = registry.create_customer("Fuzz chat customer")
        client, secret = registry.create_client(customer, "web", [ORIGIN], ())
        jwt_client, jwt_secret = registry.create_client(customer, "signed", [ORIGIN], ())
        jwt_key = ECKey.generate_key("P-256")
        registry.set_client_jwks(jwt_client, {"keys": [jwt_key.as_dict(private=False)]})
        billing = registry.create_bot(customer, "Billing helper")
        welcome = registry.create_bot(customer, "Welcome", access="all_users")
        registry.add_member(billing, "alice")
        registry.add_faq(welcome, "How do I pay?", "With a card.")
        manager = registry.create_customer("Fuzz management customer")
        manage_client, manage_secret = registry.create_client(manager, "backend", [ORIGIN], ())
        managed = registry.create_bot(manager, "Managed")
        spare = registry.create_bot(manager, "Spare", access="all_users")
        registry.add_member(managed, "carol")
        seeded = {
            "client_id": client.id,
            "client_secret": secret,
            "jwt_client_id": jwt_client.id,
            "jwt_client_key": jwt_key,
            "bots": {"billing": billing.id, "welcome": welcome.id},
            "manage_client_id": manage_client.id,
            "manage_client_secret": manage_secret,
            "manage_bots": {"managed": managed.id, "spare": spare.id},
            "manage_customer_id": manager.id,
            "never_echo": [secret, jwt_secret, manage_secret, app.config["SECRET_KEY"]],
        }
        db.session.remove()
    return seeded


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    # A database of its own: the fuzz app has its own keys folder, so it must not share the
    # signing-key table of the functional tests' live server.
    storage: Storage = request.getfixturevalue(f"{request.param}_storage")
    drop_database = None
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("fuzz-sqlite") / "chatframe.db"
        fuzz_storage = Storage("sqlite", f"sqlite:///{path}")
    else:
        from sqlalchemy import create_engine, text

        name = f"chatframe_fuzz_{secrets.token_hex(6)}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))

        def drop_database() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        fuzz_storage = Storage(
            "postgres",
            PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}",
            storage.redis_url,
            storage.redis_prefix + ":fuzz",
        )
    port = free_port()
    app = build_app(fuzz_storage, tmp_path_factory.mktemp(f"fuzz-keys-{request.param}"), port)
    services = app.extensions["chatframe"]
    # Generous limits, so near-valid requests reach the checks behind the rate limiter.
    services.settings = services.settings.replace(
        exchange_limit_per_client=1_000_000, exchange_limit_per_user=1_000_000
    )
    if services.redis is not None:
        # A busy shared CI machine can stall Redis past the production 0.25 s timeout: a 503
        # by design (outages), not an answer to the input. The fuzz suite waits longer.
        pool = services.redis.connection_pool
        pool.connection_kwargs.update(socket_timeout=5.0, socket_connect_timeout=5.0)
        pool.disconnect()
    if request.param == "sqlite":
        _no_fsync(app)
    issuer = services.settings.issuer
    seeded = _seed(app)
    private_key = seeded["jwt_client_key"].as_dict(private=True)["d"]
    current = World(
        backend=request.param,
        app=app,
        http=app.test_client(),
        issuer=issuer,
        **{k: v for k, v in seeded.items() if k != "never_echo"},
        never_echo=[*seeded["never_echo"], private_key],
    )

    class Remember(logging.Handler):
        """Keep the exception behind a 500 (the app logs it) to name it in the report."""

        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info and record.exc_info[1] is not None:
                current._last_exception = record.exc_info[1]

    handler = Remember(level=logging.ERROR)
    logging.getLogger("chatframe").addHandler(handler)
    yield current
    logging.getLogger("chatframe").removeHandler(handler)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if drop_database is not None:
        drop_database()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    total = sum(TALLY.requests.values())
    if not total:
        return
    setup = sum(n for label, n in TALLY.requests.items() if label.endswith("(setup)"))
    write = terminalreporter.write_line
    terminalreporter.section("fuzz requests")
    for label, count in sorted(TALLY.requests.items()):
        write(f"{count:>7}  {label}")
    write(
        f"{total - setup:>7}  generated requests in all, plus {setup} setup requests that "
        f"mint live codes and tokens (budget CHATFRAME_FUZZ_EXAMPLES={EXAMPLES})"
    )
