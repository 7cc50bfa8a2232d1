"""Read Chatframe's configuration once from ``CHATFRAME_*`` variables and validate it."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEV_SECRET_KEY = "chatframe-development-secret-do-not-use-in-production"  # noqa: S105
ENVIRONMENTS = ("development", "production")


class ConfigError(ValueError):
    """Raised when one or more configuration values are unusable; the message lists them all."""


@dataclass(frozen=True)
class Settings:
    """Validated configuration; one instance per app, kept in ``app.extensions``."""

    env: str = "development"
    issuer: str = "http://localhost:8000"
    database_url: str = ""  # empty: SQLite at ./instance/chatframe.db
    redis_url: str | None = None
    redis_prefix: str = "chatframe"
    redis_loss_quarantine: int | None = None  # None: the longest replay window (outages.py)
    metrics_token: str | None = None  # when set, /metrics wants "Authorization: Bearer <it>"
    secret_key: str = DEV_SECRET_KEY
    keys_dir: Path = Path("keys")
    trusted_proxies: int = 0
    code_ttl: int = 60
    access_token_ttl: int = 600
    id_token_ttl: int = 3600
    session_ttl: int = 43200
    exchange_limit_per_client: int = 600
    exchange_limit_per_user: int = 30
    rate_limit_window: int = 60
    dpop_leeway: int = 60
    client_secret_grace: int = 86400
    client_cache_ttl: int = 5
    console_signup: bool | None = None  # None: open in development, closed in production
    console_lockout_after: int = 5
    console_lockout_seconds: int = 60

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def console_signup_open(self) -> bool:
        """Whether anyone may create a customer account on the console's sign-up page."""
        return (not self.production) if self.console_signup is None else self.console_signup

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/oauth/token"

    @property
    def native_origin(self) -> str:
        """The origin embed codes for native app WebViews are bound to: Chatframe's own.

        A native app has no web origin; ``/embed/{client_id}/native`` runs on ours.
        """
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def max_signed_token_ttl(self) -> int:
        """Longest lifetime of anything we sign: a retired key must stay published this long."""
        return max(self.access_token_ttl, self.id_token_ttl)

    def replace(self, **changes: object) -> Settings:
        """Return a copy with some values changed (used by tests and the CLI)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


_INT_SETTINGS = {
    "CHATFRAME_TRUSTED_PROXIES": ("trusted_proxies", 0, 10),
    "CHATFRAME_CODE_TTL": ("code_ttl", 1, 600),
    "CHATFRAME_ACCESS_TOKEN_TTL": ("access_token_ttl", 1, 86400),
    "CHATFRAME_ID_TOKEN_TTL": ("id_token_ttl", 1, 86400),
    "CHATFRAME_SESSION_TTL": ("session_ttl", 60, 30 * 86400),
    "CHATFRAME_EXCHANGE_LIMIT_PER_CLIENT": ("exchange_limit_per_client", 1, 1_000_000),
    "CHATFRAME_EXCHANGE_LIMIT_PER_USER": ("exchange_limit_per_user", 1, 1_000_000),
    "CHATFRAME_RATE_LIMIT_WINDOW": ("rate_limit_window", 1, 86400),
    "CHATFRAME_DPOP_LEEWAY": ("dpop_leeway", 5, 600),
    "CHATFRAME_CLIENT_SECRET_GRACE": ("client_secret_grace", 0, 30 * 86400),
    "CHATFRAME_CLIENT_CACHE_TTL": ("client_cache_ttl", 0, 60),
    "CHATFRAME_CONSOLE_LOCKOUT_AFTER": ("console_lockout_after", 1, 100),
    "CHATFRAME_CONSOLE_LOCKOUT_SECONDS": ("console_lockout_seconds", 1, 86400),
    "CHATFRAME_REDIS_LOSS_QUARANTINE": ("redis_loss_quarantine", 0, 86400),
}
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True}
_BOOLEANS.update({"0": False, "false": False, "no": False, "off": False})


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from the environment, or raise :class:`ConfigError`."""
    env_vars = os.environ if environ is None else environ
    problems: list[str] = []
    values: dict[str, object] = {}

    env = env_vars.get("CHATFRAME_ENV", "development").strip().lower()
    if env not in ENVIRONMENTS:
        problems.append(f"CHATFRAME_ENV must be 'development' or 'production', not {env!r}.")
    values["env"] = env

    issuer = env_vars.get("CHATFRAME_ISSUER", Settings.issuer).strip().rstrip("/")
    problems.extend(_issuer_problems(issuer, production=env == "production"))
    values["issuer"] = issuer

    if "CHATFRAME_DATABASE_URL" in env_vars:
        values["database_url"] = env_vars["CHATFRAME_DATABASE_URL"].strip()
        if not values["database_url"]:
            problems.append("CHATFRAME_DATABASE_URL is set but empty; unset it to use SQLite.")

    redis_url = env_vars.get("CHATFRAME_REDIS_URL", "").strip() or None
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        problems.append(
            "CHATFRAME_REDIS_URL must start with redis://, rediss:// or unix:// "
            f"(got scheme {urlsplit(redis_url).scheme!r})."
        )
    values["redis_url"] = redis_url
    values["redis_prefix"] = (
        env_vars.get("CHATFRAME_REDIS_PREFIX", "chatframe").strip() or "chatframe"
    )

    metrics_token = env_vars.get("CHATFRAME_METRICS_TOKEN", "").strip() or None
    if metrics_token and len(metrics_token) < 16:
        problems.append("CHATFRAME_METRICS_TOKEN must be at least 16 characters long.")
    values["metrics_token"] = metrics_token

    secret_key = env_vars.get("CHATFRAME_SECRET_KEY", DEV_SECRET_KEY)
    if env == "production" and secret_key == DEV_SECRET_KEY:
        problems.append(
            "CHATFRAME_SECRET_KEY must be set in production (for example: "
            'python -c "import secrets; print(secrets.token_urlsafe(48))").'
        )
    elif len(secret_key) < 32:
        problems.append("CHATFRAME_SECRET_KEY must be at least 32 characters long.")
    values["secret_key"] = secret_key

    values["keys_dir"] = Path(env_vars.get("CHATFRAME_KEYS_DIR", "keys"))

    signup = env_vars.get("CHATFRAME_CONSOLE_SIGNUP", "").strip().lower()
    if signup and signup not in _BOOLEANS:
        problems.append(f"CHATFRAME_CONSOLE_SIGNUP must be 'true' or 'false', not {signup!r}.")
    values["console_signup"] = _BOOLEANS.get(signup)

    for name, (field, low, high) in _INT_SETTINGS.items():
        raw = env_vars.get(name)
        if raw is None:
            continue
        try:
            number = int(raw.strip())
        except ValueError:
            problems.append(f"{name} must be a whole number of seconds or a count, not {raw!r}.")
            continue
        if not low <= number <= high:
            problems.append(f"{name} must be between {low} and {high}, not {number}.")
            continue
        values[field] = number

    if problems:
        raise ConfigError("Chatframe cannot start:\n  - " + "\n  - ".join(problems))
    return Settings(**values)  # type: ignore[arg-type]


def _issuer_problems(issuer: str, *, production: bool) -> list[str]:
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"CHATFRAME_ISSUER must be an absolute http(s) URL, not {issuer!r}."]
    if parts.query or parts.fragment:
        return ["CHATFRAME_ISSUER must not have a query or fragment."]
    if production and parts.scheme != "https":
        return ["CHATFRAME_ISSUER must use https:// in production."]
    return []
