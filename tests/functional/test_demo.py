"""`chatframe demo` (what `make run` starts) brings up Chatframe and the demo site."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import requests

from tests.conftest import free_port
from tests.embed import Iframe
from tests.processes import clean_env, start, wait_until_up


def test_demo_serves_both_sites_and_alice_can_get_a_code(tmp_path: Path) -> None:
    port, site_port = free_port(), free_port()
    process = start(
        ["demo", "--port", str(port), "--site-port", str(site_port)],
        clean_env(),
        tmp_path,
        stdout=subprocess.PIPE,
    )
    try:
        discovery = wait_until_up(
            f"http://localhost:{port}/.well-known/openid-configuration", process
        )
        assert discovery.json()["issuer"] == f"http://localhost:{port}"
        site = f"http://localhost:{site_port}"
        signin = wait_until_up(f"{site}/signin", process)
        assert "alice" in signin.text and "wonderland" in signin.text

        browser = requests.Session()
        page = browser.get(f"{site}/signin", timeout=10).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        home = browser.post(
            f"{site}/signin",
            data={"csrf_token": csrf, "username": "alice", "password": "wonderland"},
            timeout=10,
        )
        assert "Alice Adams" in home.text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
        iframe = Iframe(f"http://localhost:{port}", "cf_unused", site)
        response = browser.post(
            f"{site}/chatframe/code",
            json={
                "codeChallenge": iframe.challenge,
                "codeChallengeMethod": "S256",
                "dpopJkt": iframe.jkt,
                "origin": site,
            },
            headers={"X-CSRFToken": csrf},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        state = tmp_path / "instance" / "demo.json"
        assert state.stat().st_mode & 0o077 == 0  # the demo's client secret is private
        iframe.client_id = json.loads(state.read_text())["client_id"]
        assert iframe.redeem(response.json()["code"]).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)  # as a service manager or `timeout` would
        output, _ = process.communicate(timeout=60)
    assert "alice / wonderland" in output and "bob   / builder" in output
    assert "Billing helper, Welcome" in output and "Tech support, Welcome" in output
    time.sleep(1)
    leftovers = subprocess.run(
        ["pgrep", "-f", f"--port {port}|DEMO_PORT={site_port}"], capture_output=True, text=True
    )
    assert leftovers.stdout == "", "chatframe demo left its servers running"
    for url in (f"http://localhost:{port}/oauth/jwks", f"http://localhost:{site_port}/signin"):
        try:
            requests.get(url, timeout=2)
        except requests.ConnectionError:
            continue
        raise AssertionError(f"{url} still answers after chatframe demo stopped")
