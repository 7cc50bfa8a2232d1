"""Console and management API actors: console users in a browser (cookies + CSRF), API callers."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests
from click.testing import CliRunner, Result

from authserver.cli import main
from authserver.extensions import db
from tests.conftest import LiveServer, Tenant

PASSWORD = "correct horse battery staple"
YES = {"confirm": "yes"}  # the explicit confirmation a destructive console action needs
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class ConsoleBrowser:
    """A browser on the console: its cookies, and the CSRF token of the last page it loaded."""

    server: LiveServer
    http: requests.Session = field(default_factory=requests.Session)
    csrf: str | None = None
    email: str | None = None

    def get(self, path: str, **params: Any) -> requests.Response:
        response = self.http.get(
            self.server.url + path, params=params or None, allow_redirects=False, timeout=30
        )
        self._remember_csrf(response)
        return response

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True
    ) -> requests.Response:
        form = dict(data or {})
        if csrf and "csrf_token" not in form:
            form["csrf_token"] = self.csrf_token()
        response = self.http.post(
            self.server.url + path, data=form, allow_redirects=False, timeout=30
        )
        self._remember_csrf(response)
        return response

    def csrf_token(self) -> str:
        if self.csrf is None:
            self.get("/console/sign-in")
        assert self.csrf, "no CSRF token on the page"
        return self.csrf

    def _remember_csrf(self, response: requests.Response) -> None:
        is_html = response.headers.get("Content-Type", "").startswith("text/html")
        if is_html and (match := _CSRF.search(response.text)):
            self.csrf = match.group(1)

    def sign_in(self, email: str, password: str = PASSWORD) -> requests.Response:
        """Post the sign-in form; on success load the overview (for a fresh CSRF token)."""
        self.csrf = None
        response = self.post("/console/sign-in", {"email": email, "password": password})
        if response.status_code == 302 and response.headers["Location"].endswith("/console/"):
            self.email = email
            assert self.get("/console/").status_code == 200
        return response

    def enter_code(self, code: str) -> requests.Response:
        response = self.post("/console/sign-in/code", {"code": code})
        if response.status_code == 302:
            self.get("/console/")
        return response


def create_console_user(tenant: Tenant, email: str | None = None, password: str = PASSWORD) -> str:
    """A console user of the tenant's customer, made directly; returns the email."""
    from authserver import registry

    email = email or f"user-{secrets.token_hex(4)}@example.com"
    with tenant.server.app.app_context():
        registry.create_console_user(registry.get_customer(tenant.customer_id), email, password)
        db.session.remove()
    return email


def signed_in(tenant: Tenant) -> ConsoleBrowser:
    browser = ConsoleBrowser(tenant.server)
    response = browser.sign_in(create_console_user(tenant))
    assert response.status_code == 302, response.text
    return browser


@pytest.fixture
def owner(tenant: Tenant) -> Iterator[ConsoleBrowser]:
    """A console user of ``tenant``'s customer, signed in."""
    browser = signed_in(tenant)
    yield browser
    browser.http.close()


@pytest.fixture
def stranger(other_tenant: Tenant) -> Iterator[ConsoleBrowser]:
    """A console user of another customer, signed in."""
    browser = signed_in(other_tenant)
    yield browser
    browser.http.close()


@pytest.fixture
def anonymous(server: LiveServer) -> Iterator[ConsoleBrowser]:
    """A browser that has loaded the sign-in page but is not signed in."""
    browser = ConsoleBrowser(server)
    browser.csrf_token()
    yield browser
    browser.http.close()


def totp_code(secret: str, offset: int = 0) -> str:
    """The code an authenticator app shows now (or ``offset`` 30-second steps away)."""
    return pyotp.TOTP(secret).at(int(time.time()) + offset * 30)


@dataclass
class ManagementApi:
    """A customer backend calling the management API with a ``scope=manage`` token."""

    server: LiveServer
    token: str | None

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return requests.request(method, self.server.url + path, headers=headers, timeout=30, **kw)


def management_api(tenant: Tenant) -> ManagementApi:
    response = tenant.backend.client_credentials()
    assert response.status_code == 200, response.text
    return ManagementApi(tenant.server, response.json()["access_token"])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """CHATFRAME_* settings for a migrated throw-away SQLite database, for CLI tests."""
    values = {
        "CHATFRAME_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        "CHATFRAME_KEYS_DIR": str(tmp_path / "keys"),
    }
    assert CliRunner().invoke(main, ["db", "upgrade"], env=values).exit_code == 0
    return values


def run(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    """Run ``chatframe ARGS`` in-process with ``env``."""
    return CliRunner().invoke(main, list(args), env=env, input=input)
