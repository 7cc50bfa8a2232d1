"""The key store: states, pruning, and refusing unsafe key files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask

from authserver import create_app
from authserver.config import Settings
from authserver.extensions import db
from authserver.keys import KeyStore, KeyStoreError


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    from flask_migrate import upgrade

    settings = Settings(database_url=f"sqlite:///{tmp_path}/k.db", keys_dir=tmp_path / "keys")
    app = create_app(settings, ensure_keys=False)
    with app.app_context():
        upgrade()
    return app


def test_rotation_moves_keys_through_their_states(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        store = KeyStore(tmp_path / "keys", lambda: db.session, retire_after=3600)
        store.ensure()
        first = {k["state"]: k["kid"] for k in store.list()}
        result = store.rotate()
        assert result["active"] == first["next"] and result["retired"] == first["active"]
        states = {k["kid"]: k["state"] for k in store.list()}
        assert states[first["active"]] == "retired" and states[result["next"]] == "next"
        assert store.signing_key()[0] == first["next"]
        assert len(store.jwks()["keys"]) == 3


def test_retired_keys_are_pruned_after_everything_they_signed_expired(
    app: Flask, tmp_path: Path
) -> None:
    with app.app_context():
        store = KeyStore(tmp_path / "keys", lambda: db.session, retire_after=0)
        store.ensure()
        original = store.signing_key()[0]
        store.rotate()  # original retired now
        store.rotate()  # retired long enough (0 s): pruned, file removed
        assert original not in {k["kid"] for k in store.list()}
        assert not (tmp_path / "keys" / f"{original}.pem").exists()


def test_world_readable_key_file_is_refused(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        store = KeyStore(tmp_path / "keys", lambda: db.session, retire_after=3600)
        store.ensure()
        kid = store.signing_key()[0]
        os.chmod(tmp_path / "keys" / f"{kid}.pem", 0o644)
        fresh = KeyStore(tmp_path / "keys", lambda: db.session, retire_after=3600)
        with pytest.raises(KeyStoreError, match="chmod 600"):
            fresh.signing_key()


def test_missing_key_file_says_what_to_do(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        store = KeyStore(tmp_path / "keys", lambda: db.session, retire_after=3600)
        store.ensure()
        fresh = KeyStore(tmp_path / "elsewhere", lambda: db.session, retire_after=3600)
        with pytest.raises(KeyStoreError, match="CHATFRAME_KEYS_DIR"):
            fresh.signing_key()
