"""The README's setup and token-exchange snippets work as printed (only the host differs)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.conftest import LiveServer
from tests.embed import Iframe
from tests.functional.test_key_rotation import cli_env

ROOT = Path(__file__).resolve().parents[2]
README_URL = "http://localhost:8000"


def snippet(name: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- readme-test: {name} -->\n```\w+\n(.*?)```", text, re.S)
    assert match, f"README has no snippet {name!r}"
    return match.group(1)


def test_readme_setup_and_exchange_snippets_work(server: LiveServer) -> None:
    assert (ROOT / ".venv" / "bin" / "activate").exists(), "run through `make test`"
    script = (
        snippet("setup")
        + snippet("exchange-curl")
        + (
            '\necho\necho "{\\"client_id\\": \\"$CHATFRAME_CLIENT_ID\\", '
            '\\"client_secret\\": \\"$CHATFRAME_CLIENT_SECRET\\", \\"bot_id\\": \\"$BOT_ID\\"}"\n'
        )
    )
    env = {**os.environ, **cli_env(server)}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace(README_URL, server.url)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    *_, exchange_line, ids_line = [
        line for line in result.stdout.splitlines() if line.startswith("{")
    ]
    exchange, ids = json.loads(exchange_line), json.loads(ids_line)
    assert exchange["issued_token_type"] == "urn:chatframe:token-type:embed-code"
    assert exchange["expires_in"] == 60 and exchange["access_token"]

    namespace: dict = {}
    os.environ["CHATFRAME_CLIENT_ID"] = ids["client_id"]
    os.environ["CHATFRAME_CLIENT_SECRET"] = ids["client_secret"]
    try:
        exec(snippet("exchange-python").replace(README_URL, server.url), namespace)  # noqa: S102
        iframe = Iframe(server.url, ids["client_id"], "http://localhost:5001")
        code = namespace["embed_code"](
            "alice", [ids["bot_id"]], iframe.challenge, iframe.jkt, iframe.origin
        )
    finally:
        del os.environ["CHATFRAME_CLIENT_ID"], os.environ["CHATFRAME_CLIENT_SECRET"]
    assert iframe.redeem(code).status_code == 200
