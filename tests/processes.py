"""Chatframe as an operator runs it: the installed ``chatframe`` command, in its own processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

CHATFRAME = str(Path(sys.executable).parent / "chatframe")


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any CHATFRAME_* setting, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATFRAME_")}
    env.update(overrides)
    return env


def cli(env: dict[str, str], cwd: Path, *args: str) -> dict:
    """Run ``chatframe ARGS``; with ``--json`` among them, return the object it printed."""
    result = subprocess.run(
        [CHATFRAME, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout) if "--json" in args else {}


@dataclass(frozen=True)
class Seed:
    customer_id: str
    client_id: str
    client_secret: str
    bot_id: str


def seed(env: dict[str, str], cwd: Path, origin: str) -> Seed:
    """A customer with one client for ``origin`` and one ``all_users`` bot, through the CLI."""
    customer = cli(env, cwd, "customers", "create", "--name", "Acme", "--json")["customer_id"]
    client = cli(
        env,
        cwd,
        "clients",
        "create",
        "--customer",
        customer,
        "--name",
        "web",
        "--origin",
        origin,
        "--json",
    )
    bot = cli(
        env,
        cwd,
        "bots",
        "create",
        "--customer",
        customer,
        "--name",
        "Welcome",
        "--access",
        "all_users",
        "--json",
    )["bot_id"]
    return Seed(customer, client["client_id"], client["client_secret"], bot)


def start(args: list[str], env: dict[str, str], cwd: Path, **popen: object) -> subprocess.Popen:
    """Start ``chatframe ARGS`` (output discarded unless ``stdout`` is given)."""
    popen.setdefault("stdout", subprocess.DEVNULL)
    popen.setdefault(
        "stderr", subprocess.DEVNULL if popen["stdout"] is subprocess.DEVNULL else subprocess.STDOUT
    )
    return subprocess.Popen([CHATFRAME, *args], env=env, cwd=cwd, text=True, **popen)  # type: ignore[call-overload]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> requests.Response:
    """GET ``url`` until it answers; fail if ``process`` exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            assert process.poll() is None, f"{process.args} exited with {process.returncode}"
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")
