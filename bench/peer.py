"""node-oidc-provider 9 on the same box: the reference every Chatframe figure is a ratio to."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import requests
from joserfc.jwk import ECKey

from .prepare import FORM, basic_auth, line
from .server import free_port

HERE = Path(__file__).resolve().parent / "peer"
REPO = HERE.parents[1]
PEER_CLIENT = ("bench", "bench-secret-0123456789abcdef0123456789")
DEFAULT_PORT = 3100  # the port server.mjs is written for


def peer_dir() -> Path:
    """Where ``server.mjs`` lives: $BENCH_PEER_DIR, else ``shared/bench-peer`` beside the repo
    (or beside one of its parent folders, as for a git worktree)."""
    override = os.environ.get("BENCH_PEER_DIR")
    if override:
        folder = Path(override)
        if not (folder / "server.mjs").is_file():
            raise SystemExit(f"bench: BENCH_PEER_DIR={override} has no server.mjs")
        return folder
    for parent in REPO.parents:
        folder = parent / "shared" / "bench-peer"
        if (folder / "server.mjs").is_file():
            return folder
    raise SystemExit(
        "bench: node-oidc-provider's server (shared/bench-peer/server.mjs) was not found next to "
        "the repository; set BENCH_PEER_DIR to the folder that holds server.mjs."
    )


class Peer:
    """Install (npm, into bench/peer/node_modules), start with 2 workers, and stop the peer."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self.process: subprocess.Popen | None = None
        self.port = DEFAULT_PORT
        self.log = HERE / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def install(self) -> None:
        for tool in ("node", "npm"):
            if not shutil.which(tool):
                raise SystemExit(
                    f"bench: {tool} is not installed; the bench needs Node.js 20+ and npm to run "
                    "node-oidc-provider next to Chatframe (Debian: apt-get install nodejs npm)."
                )
        if not (HERE / "node_modules" / "oidc-provider").is_dir():
            print("bench: installing node-oidc-provider 9 from npm into bench/peer/node_modules")
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True
            )
        source = (peer_dir() / "server.mjs").read_text()
        if not _port_free(DEFAULT_PORT):
            # server.mjs listens on a fixed port; another bench may be using it right now.
            self.port = free_port()
            source = source.replace(str(DEFAULT_PORT), str(self.port))
        (HERE / "server.mjs").write_text(source)

    def start(self) -> None:
        self.install()
        key = ECKey.generate_key("P-256").as_dict(private=True)
        key.update(kid="k1", alg="ES256", use="sig")
        env = {**os.environ, "JWK": json.dumps(key), "WORKERS": str(self.workers)}
        env["PORT"] = str(self.port)
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                ["node", "server.mjs"],
                cwd=HERE,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the cluster workers stop with it
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: node-oidc-provider exited; see {self.log}")
            try:
                if self.client_credentials().status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"bench: node-oidc-provider did not answer within 60 s; see {self.log}")

    def client_credentials(self) -> requests.Response:
        return requests.post(
            f"{self.base_url}/token",
            data={"grant_type": "client_credentials", "scope": "manage"},
            auth=PEER_CLIENT,
            timeout=10,
        )

    def client_credentials_line(self) -> str:
        body = "grant_type=client_credentials&scope=manage"
        return line("POST", f"{self.base_url}/token", body, [FORM, basic_auth(*PEER_CLIENT)])

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
