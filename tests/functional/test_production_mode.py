"""CHATFRAME_ENV=production: secure cookies, https-only origins, closed sign-up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from authserver import create_app, registry
from authserver.config import Settings

PASSWORD = "correct horse battery staple"


@pytest.fixture
def production_app(tmp_path: Path) -> Flask:
    from flask_migrate import upgrade

    settings = Settings(
        env="production",
        issuer="https://chat.example.com",
        secret_key="p" * 48,
        database_url=f"sqlite:///{tmp_path}/prod.db",
        keys_dir=tmp_path / "keys",
    )
    app = create_app(settings, ensure_keys=False)
    with app.app_context():
        upgrade()
        app.extensions["chatframe"].keys.ensure()
        customer = registry.create_customer("Acme")
        registry.create_console_user(customer, "ana@acme.example", PASSWORD)
    return app


def test_console_cookie_is_secure_httponly_and_samesite(production_app: Flask) -> None:
    client = production_app.test_client()
    page = client.get("/console/sign-in", base_url="https://chat.example.com")
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"|'
        r'name="csrf_token" value="([^"]+)"',
        page.text,
    )
    assert token is not None
    response = client.post(
        "/console/sign-in",
        data={
            "csrf_token": token.group(1) or token.group(2),
            "email": "ana@acme.example",
            "password": PASSWORD,
        },
        base_url="https://chat.example.com",
        headers={"Referer": "https://chat.example.com/console/sign-in"},
    )
    assert response.status_code == 302, response.text
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and all(
        "Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies
    ), cookies


def test_production_refuses_http_origins(production_app: Flask) -> None:
    with production_app.app_context():
        customer = registry.create_customer("Beta")
        with pytest.raises(registry.RegistryError, match="https"):
            registry.create_client(customer, "web", ["http://shop.example.com"])
        client, _ = registry.create_client(customer, "web", ["https://shop.example.com"])
        assert client.allowed_origins == ["https://shop.example.com"]


def test_sign_up_is_closed_in_production_by_default(production_app: Flask) -> None:
    response = production_app.test_client().get(
        "/console/sign-up", base_url="https://chat.example.com"
    )
    assert response.status_code == 404
