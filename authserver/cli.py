"""The ``chatframe`` command line: database, server, customers, console users, clients, bots."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask

from .config import ConfigError, load_settings


def _app(ensure_keys: bool = True) -> Flask:
    from . import create_app

    try:
        return create_app(load_settings(), ensure_keys=ensure_keys)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@contextmanager
def _context() -> Iterator[Flask]:
    from .keys import KeyStoreError
    from .registry import RegistryError

    app = _app()
    with app.app_context():
        from .extensions import db

        try:
            if not _schema_is_current(app):
                raise click.ClickException(
                    "The database is not migrated: run 'chatframe db upgrade' first."
                )
            yield app
        except (RegistryError, KeyStoreError) as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
        finally:
            db.session.remove()
            db.engine.dispose()


def _schema_is_current(app: Flask) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask_migrate import Migrate

    from .extensions import db

    migrate: Migrate = app.extensions["migrate"].migrate
    config = migrate.get_config(directory=None)
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


def _emit(as_json: bool, data: dict[str, Any], human: str) -> None:
    click.echo(json.dumps(data) if as_json else human)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Chatframe: embed chat bots in customers' sites, securely."""


# -- db ------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema, and create signing keys."""
    upgrade_database()
    click.echo("Database is up to date; signing keys are ready.")


def upgrade_database() -> None:
    from flask_migrate import upgrade

    from .extensions import db

    app = _app(ensure_keys=False)
    with app.app_context():
        upgrade()
        app.extensions["chatframe"].keys.ensure()
        db.session.remove()
        db.engine.dispose()


# -- serve ---------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    help="Threads per worker (default: 4 on PostgreSQL; 1 on SQLite, which has one writer).",
)
@click.option(
    "--server",
    "server_name",
    type=click.Choice(["granian", "gunicorn"]),
    default="granian",
    show_default=True,
    help="HTTP server: granian (fastest measured, see bench/README.md) or gunicorn (gthread).",
)
def serve(host: str, port: int, workers: int, threads: int | None, server_name: str) -> None:
    """Run the production server (granian by default; gunicorn on request)."""
    metrics_dir = _prepare_metrics_dir()  # before anything imports prometheus_client
    settings = _load_or_fail()
    if not settings.production:
        upgrade_database()  # development: a fresh checkout just works
    else:
        with _context():
            pass  # refuses to start on a database that is not migrated
    click.echo(
        f"Chatframe ({settings.env}) on http://{host}:{port} with {server_name}, "
        f"{workers} worker(s) — issuer {settings.issuer}"
    )
    if threads is None:
        threads = (
            1 if not settings.database_url or settings.database_url.startswith("sqlite") else 4
        )
    try:
        if server_name == "granian":
            run_granian(host, port, workers, threads)
        else:
            run_gunicorn(f"{host}:{port}", workers, threads)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def run_granian(
    host: str,
    port: int,
    workers: int,
    threads: int,
    target: str = "authserver:create_app",
    factory: bool = True,
) -> None:
    """Serve with granian: a Rust HTTP server that calls the WSGI app from worker threads.

    ``target`` is the app (or, with ``factory``, the function that makes it); the bench's
    floor (``bench/floor.py``) serves its bare app with these same settings."""
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        target,
        factory=factory,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        log_access=True,
        # Path only, never the query string: nothing sensitive belongs there, but be safe.
        log_access_format='[%(time)s] %(addr)s "%(method)s %(path)s" %(status)d %(dt_ms).1fms',
        respawn_failed_workers=True,
        # On SIGTERM, a worker still busy (or held by idle keep-alive clients) after this
        # many seconds is killed, so a restart never hangs.
        workers_kill_timeout=10,
    ).serve()


def _prepare_metrics_dir() -> Path | None:
    """Give gunicorn's workers one shared folder for metrics, so /metrics sums them all.

    An operator's PROMETHEUS_MULTIPROC_DIR is used (emptied of a previous run's files);
    otherwise a private temporary folder is made, and removed again on exit.
    """
    import os
    import tempfile

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        return None
    folder = Path(tempfile.mkdtemp(prefix="chatframe-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def run_gunicorn(bind: str, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", "-")
            # Never log query strings: nothing sensitive belongs there, but be safe.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss')
            self.cfg.set("child_exit", _worker_exited)
            self.cfg.set("pre_request", _close_after_unread_body)

        def load(self) -> Flask:
            return _app()

    _Server().run()


def _worker_exited(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _close_after_unread_body(worker: Any, req: Any) -> None:
    """Answer ``Connection: close`` to a request whose body Chatframe may leave unread.

    A body over the limit is refused (413) without being read, and gunicorn drains at most
    64 KiB of it before reusing the connection; past that it drops a connection it has just
    called keep-alive. A chunked body's size is unknown until read, so it closes too.
    """
    from .edge import MAX_BODY

    for name, value in req.headers:
        if name == "TRANSFER-ENCODING" or (
            name == "CONTENT-LENGTH" and (not value.isdigit() or int(value) > MAX_BODY)
        ):
            req.must_close = True


def _load_or_fail() -> Any:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


# -- demo --------------------------------------------------------------------------------


@main.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--site-port", default=5001, show_default=True, type=click.IntRange(1, 65535))
def demo(port: int, site_port: int) -> None:
    """Seed demo data, then run Chatframe and the demo customer site together."""
    import os
    import signal
    import subprocess
    import time

    root = Path(__file__).resolve().parents[1]
    if not (root / "examples" / "demo_site").is_dir():
        raise click.ClickException("chatframe demo runs from a source checkout (examples/).")
    env = dict(os.environ)
    env.setdefault("CHATFRAME_ISSUER", f"http://localhost:{port}")
    os.environ["CHATFRAME_ISSUER"] = env["CHATFRAME_ISSUER"]
    site = f"http://localhost:{site_port}"
    upgrade_database()
    from .demo import demo_bot_names, seed_demo

    with _context() as app:
        state = seed_demo(Path(app.instance_path) / "demo.json", site)
        names = demo_bot_names(state)
    env.update(
        DEMO_CHATFRAME_URL=env["CHATFRAME_ISSUER"],
        CHATFRAME_CLIENT_ID=state["client_id"],
        CHATFRAME_CLIENT_SECRET=state["client_secret"],
        DEMO_BOTS=json.dumps(state["user_bots"]),
        DEMO_PORT=str(site_port),
    )
    chatframe_cmd = [sys.argv[0], "serve", "--port", str(port), "--workers", "2"]
    processes = [
        subprocess.Popen(chatframe_cmd, env=env),  # noqa: S603 - our own executable
        subprocess.Popen([sys.executable, "-m", "examples.demo_site"], env=env, cwd=root),
    ]

    def who(user: str) -> str:
        return ", ".join(names[b] for b in state["user_bots"][user])

    click.echo(
        f"""
  Chatframe        {env["CHATFRAME_ISSUER"]}   (discovery: /.well-known/openid-configuration)
  Demo site (Acme) {site}

  Open {site} and sign in as
    alice / wonderland   → {who("alice")}
    bob   / builder      → {who("bob")}
  Press Ctrl-C to stop.
"""
    )

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops both servers, as Ctrl-C does

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


# -- customers -----------------------------------------------------------------------------


@main.group()
def customers() -> None:
    """Customers (companies with an account)."""


@customers.command("create")
@click.option("--name", required=True)
@json_option
def customers_create(name: str, as_json: bool) -> None:
    """Create a customer."""
    from . import registry

    with _context():
        customer = registry.create_customer(name)
        _emit(as_json, {"customer_id": customer.id}, f"Created customer {customer.id}")


# -- console users -------------------------------------------------------------------------


@main.group("console-users")
def console_users() -> None:
    """People of a customer who sign in to the console."""


@console_users.command("create")
@click.option("--customer", "customer_id", required=True, help="cus_… id.")
@click.option("--email", required=True)
@click.option(
    "--password-stdin",
    "password_stdin",
    is_flag=True,
    help="Required: read the password from standard input (so it stays out of shell history).",
)
@json_option
def console_users_create(customer_id: str, email: str, password_stdin: bool, as_json: bool) -> None:
    """Create a console user; the password is read from stdin and stored scrypt-hashed."""
    from . import registry

    if not password_stdin:
        raise click.UsageError("Pass --password-stdin and send the password on standard input.")
    password = sys.stdin.read().rstrip("\r\n")
    with _context():
        user = registry.create_console_user(registry.get_customer(customer_id), email, password)
        _emit(
            as_json,
            {"console_user_id": user.id},
            f"Created console user {user.id} ({user.email}) for {customer_id}",
        )


# -- clients -------------------------------------------------------------------------------


@main.group()
def clients() -> None:
    """OAuth clients of a customer."""


@clients.command("create")
@click.option("--customer", "customer_id", required=True, help="cus_… id.")
@click.option("--name", required=True)
@click.option("--origin", "origins", multiple=True, required=True, help="Exact embed origin.")
@click.option("--ip", "cidrs", multiple=True, help="CIDR allowed to call the token endpoint.")
@json_option
def clients_create(
    customer_id: str, name: str, origins: tuple[str, ...], cidrs: tuple[str, ...], as_json: bool
) -> None:
    """Create a client; its secret is printed once and stored only as a hash."""
    from . import registry

    with _context():
        customer = registry.get_customer(customer_id)
        client, secret = registry.create_client(customer, name, origins, cidrs)
        _emit(
            as_json,
            {"client_id": client.id, "client_secret": secret},
            f"Created client {client.id}\nclient_secret: {secret}\n"
            "Store the secret in your backend now: it will not be shown again.",
        )


@clients.command("rotate-secret")
@click.argument("client_id")
@click.option("--grace", type=click.IntRange(0, 30 * 86400), help="Seconds the old secret works.")
@json_option
def clients_rotate_secret(client_id: str, grace: int | None, as_json: bool) -> None:
    """Issue a new secret; the old one keeps working during the grace period."""
    from . import registry

    with _context():
        secret = registry.rotate_client_secret(registry.get_client(client_id), grace)
        _emit(as_json, {"client_secret": secret}, f"client_secret: {secret}")


@clients.command("set-jwks")
@click.argument("client_id")
@click.argument("jwks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def clients_set_jwks(client_id: str, jwks_file: Path) -> None:
    """Register the public JWKS the client signs private_key_jwt assertions with."""
    from . import registry, strictjson

    try:
        jwks = strictjson.loads(jwks_file.read_bytes())
    except ValueError as exc:
        raise click.ClickException(f"{jwks_file} is not JSON: {exc}") from exc
    with _context():
        registry.set_client_jwks(registry.get_client(client_id), jwks)
        click.echo(f"Registered {len(jwks.get('keys', []))} key(s) for {client_id}")


@clients.command("update")
@click.argument("client_id")
@click.option("--origin", "origins", multiple=True, help="Replace the allowed origins.")
@click.option("--ip", "cidrs", multiple=True, help="Replace the IP allowlist.")
@click.option("--clear-ips", is_flag=True, help="Remove the IP allowlist.")
@click.option("--enable/--disable", default=None)
@click.option(
    "--native/--no-native",
    default=None,
    help="Allow native app WebViews (/embed/CLIENT_ID/native, codes over the app's bridge).",
)
@click.option(
    "--native-fragment/--no-native-fragment",
    default=None,
    help="Also accept a code in the native page's URL fragment (weaker; needs --native).",
)
def clients_update(
    client_id: str,
    origins: tuple[str, ...],
    cidrs: tuple[str, ...],
    clear_ips: bool,
    enable: bool | None,
    native: bool | None,
    native_fragment: bool | None,
) -> None:
    """Change a client's origins, IP allowlist, enabled state or native app embedding."""
    from . import registry

    with _context():
        client = registry.update_client(
            registry.get_client(client_id),
            origins=origins or None,
            ip_allowlist=[] if clear_ips else (cidrs or None),
            enabled=enable,
            native_enabled=native,
            native_fragment=native_fragment,
        )
        native_state = (
            "bridge + fragment"
            if client.allows_native_fragment
            else ("bridge" if client.native_enabled else "off")
        )
        click.echo(
            f"{client.id}: origins {', '.join(client.allowed_origins)}; "
            f"IPs {', '.join(client.ip_allowlist) or 'any'}; "
            f"{'enabled' if client.enabled else 'disabled'}; native apps {native_state}"
        )


# -- bots ----------------------------------------------------------------------------------


@main.group()
def bots() -> None:
    """Bots, their FAQ and their members."""


@bots.command("create")
@click.option("--customer", "customer_id", required=True)
@click.option("--name", required=True)
@click.option("--access", type=click.Choice(["members", "all_users"]), default="members")
@json_option
def bots_create(customer_id: str, name: str, access: str, as_json: bool) -> None:
    """Create a bot."""
    from . import registry

    with _context():
        bot = registry.create_bot(registry.get_customer(customer_id), name, access)
        _emit(as_json, {"bot_id": bot.id}, f"Created bot {bot.id}")


@bots.command("update")
@click.argument("bot_id")
@click.option("--name")
@click.option("--greeting")
@click.option("--fallback", help="What the bot says when no FAQ entry matches.")
@click.option("--access", type=click.Choice(["members", "all_users"]))
@click.option("--require-mfa/--no-require-mfa", default=None)
@click.option("--enable/--disable", default=None)
def bots_update(bot_id: str, enable: bool | None, **fields: Any) -> None:
    """Change a bot."""
    from . import registry

    with _context():
        bot = registry.update_bot(registry.get_bot(bot_id), enabled=enable, **fields)
        click.echo(
            f"{bot.id}: {bot.name!r}, access {bot.access}, "
            + ("MFA required, " if bot.require_mfa else "")
            + ("enabled" if bot.enabled else "disabled")
        )


@bots.command("faq-add")
@click.argument("bot_id")
@click.option("--question", required=True)
@click.option("--answer", required=True)
def bots_faq_add(bot_id: str, question: str, answer: str) -> None:
    """Add a question and its answer to a bot's FAQ."""
    from . import registry

    with _context():
        bot = registry.get_bot(bot_id)
        registry.add_faq(bot, question, answer)
        click.echo(f"{bot.id} now has {len(bot.faq)} FAQ entries")


@bots.command("faq-list")
@click.argument("bot_id")
@json_option
def bots_faq_list(bot_id: str, as_json: bool) -> None:
    """List a bot's FAQ."""
    from . import registry

    with _context():
        entries = [
            {"question": e.question, "answer": e.answer} for e in registry.get_bot(bot_id).faq
        ]
        human = "\n".join(f"Q: {e['question']}\nA: {e['answer']}\n" for e in entries) or "(no FAQ)"
        _emit(as_json, {"faq": entries}, human)


def _member_command(name: str, action: Callable[..., bool], done: str, noop: str) -> None:
    @bots.command(name)
    @click.argument("bot_id")
    @click.argument("partner_user_id")
    def command(bot_id: str, partner_user_id: str) -> None:
        from . import registry

        with _context():
            changed = action(registry.get_bot(bot_id), partner_user_id)
            click.echo((done if changed else noop).format(user=partner_user_id, bot=bot_id))

    command.__doc__ = f"{name.replace('-', ' ').capitalize()} (a partner user id of the customer)."


def _add(bot: Any, user: str) -> bool:
    from .registry import add_member

    return add_member(bot, user)


def _remove(bot: Any, user: str) -> bool:
    from .registry import remove_member

    return remove_member(bot, user)


_member_command(
    "add-member", _add, "{user} is now a member of {bot}", "{user} was already a member of {bot}"
)
_member_command(
    "remove-member",
    _remove,
    "{user} is no longer a member of {bot}",
    "{user} was not a member of {bot}",
)


# -- keys ----------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Token signing keys."""


@keys.command("rotate")
@json_option
def keys_rotate(as_json: bool) -> None:
    """Promote the next key to active, retire the active one, publish a new next key."""
    from . import events
    from .events import EventType

    with _context() as app:
        result = app.extensions["chatframe"].keys.rotate()
        events.record(EventType.KEY_ROTATED, active=result["active"], retired=result["retired"])
        _emit(
            as_json,
            result,
            f"active: {result['active']}\nnext: {result['next']}\n"
            f"retired: {result['retired'] or '-'}",
        )


@keys.command("list")
@json_option
def keys_list(as_json: bool) -> None:
    """List keys and their states (no key material)."""
    with _context() as app:
        rows = app.extensions["chatframe"].keys.list()
        human = "\n".join(f"{r['kid']}  {r['state']:<8} created {r['created_at']}" for r in rows)
        _emit(as_json, {"keys": rows}, human)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
