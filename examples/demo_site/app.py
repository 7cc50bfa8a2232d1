"""Acme's web app, as one of Chatframe's customers would write it.

It signs in its own users, and its backend — never the browser — holds the Chatframe client
secret and asks for one-time embed codes for the signed-in user's bots.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import Flask, Response, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.security import check_password_hash, generate_password_hash

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
PARTNER_USER_ID = "urn:chatframe:token-type:partner-user-id"

# The demo's own user directory: Acme's users, their passwords and display names.
DEMO_USERS = {
    "alice": ("Alice Adams", "wonderland"),
    "bob": ("Bob Baker", "builder"),
}


@dataclass
class DemoConfig:
    chatframe_url: str
    client_id: str
    client_secret: str
    bots: dict[str, list[str]]  # Acme's own record of which bots each user may use
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def from_env(cls) -> DemoConfig:
        """Read DEMO_CHATFRAME_URL, CHATFRAME_CLIENT_ID, CHATFRAME_CLIENT_SECRET, DEMO_BOTS."""
        missing = [
            name
            for name in ("CHATFRAME_CLIENT_ID", "CHATFRAME_CLIENT_SECRET", "DEMO_BOTS")
            if not os.environ.get(name)
        ]
        if missing:
            raise SystemExit(f"demo site: set {', '.join(missing)} (`chatframe demo` does this)")
        return cls(
            chatframe_url=os.environ.get("DEMO_CHATFRAME_URL", "http://localhost:8000").rstrip("/"),
            client_id=os.environ["CHATFRAME_CLIENT_ID"],
            client_secret=os.environ["CHATFRAME_CLIENT_SECRET"],
            bots=json.loads(os.environ["DEMO_BOTS"]),
            secret_key=os.environ.get("DEMO_SECRET_KEY") or secrets.token_urlsafe(32),
        )


def create_demo_app(config: DemoConfig) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=config.secret_key, SESSION_COOKIE_SAMESITE="Lax")
    CSRFProtect(app)
    passwords = {user: generate_password_hash(pw) for user, (_, pw) in DEMO_USERS.items()}

    @app.after_request
    def _csp(response: Response) -> Response:
        chatframe = config.chatframe_url
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' {chatframe}; frame-src {chatframe}; "
            f"connect-src 'self' {chatframe}; style-src 'self'; img-src 'self' data:; "
            "base-uri 'none'; frame-ancestors 'none'"
        )
        return response

    @app.get("/")
    def home() -> Any:
        user = session.get("user")
        if user not in DEMO_USERS:
            return redirect(url_for("sign_in"))
        page_config = {"chatframeUrl": config.chatframe_url, "clientId": config.client_id}
        return render_template(
            "home.html", name=DEMO_USERS[user][0], user=user, page_config=page_config
        )

    @app.route("/signin", methods=["GET", "POST"])
    def sign_in() -> Any:
        error = None
        if request.method == "POST":
            user = request.form.get("username", "").strip().lower()
            password = request.form.get("password", "")
            stored = passwords.get(user, passwords["alice"])  # same work for unknown users
            if check_password_hash(stored, password) and user in DEMO_USERS:
                session.clear()
                session["user"] = user
                return redirect(url_for("home"))
            error = "That username and password don't match."
        return render_template("signin.html", error=error), 401 if error else 200

    @app.post("/signout")
    def sign_out() -> Any:
        session.clear()
        return redirect(url_for("sign_in"))

    @app.post("/chatframe/code")
    def chatframe_code() -> Any:
        """The getCode backend: authenticate OUR user, then ask Chatframe for an embed code."""
        user = session.get("user")
        if user not in DEMO_USERS:
            return jsonify(error="Sign in first."), 401
        body = request.get_json(silent=True) or {}
        wanted = ("codeChallenge", "codeChallengeMethod", "dpopJkt", "origin")
        if not all(isinstance(body.get(k), str) for k in wanted):
            return jsonify(
                error="Send codeChallenge, codeChallengeMethod, dpopJkt and origin."
            ), 400
        if not hmac.compare_digest(body["origin"], request.host_url.rstrip("/")):
            return jsonify(error="The chat must be embedded on this site."), 400
        response = requests.post(
            f"{config.chatframe_url}/oauth/token",
            auth=(config.client_id, config.client_secret),
            data={
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": user,
                "subject_token_type": PARTNER_USER_ID,
                "scope": " ".join(["chat"] + [f"bot:{bot}" for bot in config.bots.get(user, [])]),
                "origin": body["origin"],
                "code_challenge": body["codeChallenge"],
                "code_challenge_method": body["codeChallengeMethod"],
                "dpop_jkt": body["dpopJkt"],
            },
            timeout=10,
        )
        if response.status_code != 200:
            problem = response.json().get("error_description", "Chatframe refused the request.")
            app.logger.warning("Chatframe refused an embed code: %s", problem)
            return jsonify(error=problem), 502
        return jsonify(code=response.json()["access_token"])

    return app
