"""What an orchestrator and Prometheus read: /healthz, /readyz and /metrics."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import requests

from tests.conftest import LiveServer, Tenant, free_port
from tests.processes import clean_env, start, wait_until_up


def sample(metrics_text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 if absent)."""
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(server: LiveServer, **headers: str) -> str:
    response = requests.get(f"{server.url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def test_healthz_says_the_process_is_up(server: LiveServer) -> None:
    response = requests.get(f"{server.url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_checks_every_dependency(server: LiveServer) -> None:
    response = requests.get(f"{server.url}/readyz", timeout=5)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    expected = {"database", "keys"} | ({"redis"} if server.settings.redis_url else set())
    assert body["checks"] == dict.fromkeys(expected, "ok")


def test_metrics_count_grants_by_outcome_and_requests_by_route(tenant: Tenant) -> None:
    server, bot = tenant.server, tenant.bots["billing"]
    before = scrape(server)
    iframe = tenant.iframe()
    code = tenant.backend.code(iframe, "alice", [bot])
    assert iframe.redeem(code).status_code == 200
    assert iframe.api("GET", f"/chat/api/bots/{bot}").status_code == 200
    assert tenant.iframe().redeem(code).status_code == 400
    after = scrape(server)

    def grew(name: str, by: float, **labels: str) -> None:
        delta = sample(after, name, **labels) - sample(before, name, **labels)
        assert delta == by, (name, labels, delta)

    grew("chatframe_grants_total", 1, grant_type="token_exchange", outcome="issued")
    grew("chatframe_grants_total", 1, grant_type="authorization_code", outcome="issued")
    grew("chatframe_grants_total", 1, grant_type="authorization_code", outcome="invalid_grant")
    grew(
        "chatframe_http_requests_total",
        1,
        endpoint="/chat/api/bots/<bot_id>",
        method="GET",
        status="200",
    )
    assert sample(after, "chatframe_http_request_duration_seconds_count", endpoint="/oauth/token")
    # Labels name routes, never values: no bot id, client id, code or secret shows up.
    for value in (bot, tenant.client_id, tenant.client_secret, code, iframe.tokens["access_token"]):
        assert value not in after


def test_unknown_paths_and_methods_share_one_label(server: LiveServer) -> None:
    for _ in range(3):
        requests.get(f"{server.url}/no/such/{secrets.token_hex(8)}", timeout=5)
    requests.request("BREW", f"{server.url}/healthz", timeout=5)
    text = scrape(server)
    assert "/no/such" not in text
    assert "BREW" not in text
    assert sample(text, "chatframe_http_requests_total", endpoint="unmatched", status="404") >= 3


def test_metrics_token_when_configured(server: LiveServer) -> None:
    token = secrets.token_urlsafe(24)
    server.configure(metrics_token=token)
    refused = requests.get(f"{server.url}/metrics", timeout=5)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    assert token not in refused.text
    wrong = requests.get(
        f"{server.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=5
    )
    assert wrong.status_code == 401
    assert "chatframe_http_requests_total" in scrape(server, Authorization=f"Bearer {token}")


def test_serve_sums_metrics_over_all_workers(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        CHATFRAME_DATABASE_URL=f"sqlite:///{tmp_path}/serve.db",
        CHATFRAME_KEYS_DIR=str(tmp_path / "keys"),
        CHATFRAME_ISSUER=f"http://127.0.0.1:{port}",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = start(["serve", "--port", str(port), "--workers", "3"], env, tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/healthz", process)
        for _ in range(30):
            # A new connection each time, so gunicorn spreads them over its workers.
            assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
        # Whichever worker answers the scrape, it reports every worker's requests.
        counts = set()
        for _ in range(4):
            text = requests.get(f"{url}/metrics", timeout=5).text
            counts.add(
                sample(text, "chatframe_http_requests_total", endpoint="/healthz", status="200")
            )
        assert counts == {31.0}  # 30 + the one wait_until_up made
    finally:
        process.terminate()
        process.wait(timeout=30)
