"""`chatframe keys rotate` never breaks a valid token; new tokens carry the new kid."""

from __future__ import annotations

import json

import requests
from click.testing import CliRunner
from joserfc import jwt
from joserfc.jwk import KeySet

from authserver.cli import main
from tests.conftest import LiveServer, Tenant
from tests.functional.test_embed_flow import header_of


def cli_env(server: LiveServer) -> dict[str, str]:
    settings = server.settings
    env = {
        "CHATFRAME_DATABASE_URL": settings.database_url,
        "CHATFRAME_KEYS_DIR": str(settings.keys_dir),
        "CHATFRAME_SECRET_KEY": settings.secret_key,
        "CHATFRAME_ISSUER": settings.issuer,
    }
    if settings.redis_url:
        env.update(
            CHATFRAME_REDIS_URL=settings.redis_url, CHATFRAME_REDIS_PREFIX=settings.redis_prefix
        )
    return env


def verify_with_published_jwks(server: LiveServer, token: str) -> None:
    jwks = requests.get(f"{server.url}/oauth/jwks", timeout=10).json()
    jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256"])


def test_tokens_survive_rotation_and_new_tokens_use_the_new_kid(
    server: LiveServer, tenant: Tenant
) -> None:
    runner = CliRunner()
    before = json.loads(runner.invoke(main, ["keys", "list", "--json"], env=cli_env(server)).output)
    upcoming = next(k["kid"] for k in before["keys"] if k["state"] == "next")

    iframe = tenant.session("alice", [tenant.bots["welcome"]])
    old_access, old_id = iframe.tokens["access_token"], iframe.tokens["id_token"]
    old_kid = header_of(old_access)["kid"]

    result = runner.invoke(main, ["keys", "rotate", "--json"], env=cli_env(server))
    assert result.exit_code == 0, result.output
    rotated = json.loads(result.output)
    assert rotated["active"] == upcoming  # the pre-published key is the one that now signs
    assert old_kid in rotated["retired"].split(",")
    server.app.extensions["chatframe"].keys.invalidate()  # as each worker does within 30 s

    # old tokens still verify: by the server, and by anyone holding the published JWKS
    assert tenant.backend.introspect(old_access).json()["active"] is True
    verify_with_published_jwks(server, old_access)
    verify_with_published_jwks(server, old_id)

    assert iframe.refresh().status_code == 200
    new_kid = header_of(iframe.tokens["access_token"])["kid"]
    assert new_kid == upcoming != old_kid
    verify_with_published_jwks(server, iframe.tokens["access_token"])

    kids = {k["kid"] for k in requests.get(f"{server.url}/oauth/jwks", timeout=10).json()["keys"]}
    assert {old_kid, new_kid, rotated["next"]} <= kids
    assert tenant.events  # rotation is a global event, recorded without a customer
    from sqlalchemy import select

    from authserver.extensions import db
    from authserver.models import SecurityEvent

    with server.app.app_context():
        types = (
            db.session.execute(
                select(SecurityEvent.type).where(SecurityEvent.type == "key_rotated")
            )
            .scalars()
            .all()
        )
        db.session.remove()
    assert types


def test_private_keys_are_never_served_and_files_are_private(server: LiveServer) -> None:
    import stat

    for key in requests.get(f"{server.url}/oauth/jwks", timeout=10).json()["keys"]:
        assert not {"d", "p", "q"} & key.keys()
    pems = list(server.settings.keys_dir.glob("*.pem"))
    assert pems
    for pem in pems:
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
