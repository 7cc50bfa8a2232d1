"""Browser fixtures: headless Chromium, Chatframe on 127.0.0.1, customer pages on localhost.

The origins differ (host and port), so every cross-origin rule — CSP frame-ancestors,
postMessage origins, CORS — is the browser's real behaviour.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from authserver.extensions import db
from tests.conftest import LiveServer, build_app, free_port, service_unavailable
from tests.embed import Backend, Iframe

CHROMIUM = os.environ.get("CHATFRAME_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        service_unavailable("Chromium", FileNotFoundError(CHROMIUM))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


class ThreadServer:
    """A WSGI app on 127.0.0.1:port in a background thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()


class PageServer:
    """Serves HTML pages a test writes, on an origin of its own (http://localhost:PORT).

    ``POST /code`` acts as a minimal customer backend when ``code_backend`` is set: it turns the
    JSON body the SDK's getCode sends into an embed code, or passes Chatframe's refusal on
    (502 with its ``error`` and ``error_description``), as the Install page's snippets do.
    """

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.code_backend: Any = None
        self._server = ThreadServer(self._app)
        self.origin = f"http://localhost:{self._server.port}"

    @Request.application  # type: ignore[arg-type]
    def _app(self, request: Request) -> Response:
        code_paths = ("/code", "/chatframe/code")  # ours, and the Install page snippets'
        if request.path in code_paths and request.method == "POST" and self.code_backend:
            answer = self.code_backend(request.get_json())
            if isinstance(answer, dict):
                return Response(json.dumps(answer), status=502, mimetype="application/json")
            return Response(json.dumps({"code": answer}), mimetype="application/json")
        html = self.pages.get(request.path)
        if html is None:
            return Response("not found", status=404)
        return Response(html, mimetype="text/html", headers=self.headers.get(request.path, {}))

    def page(self, path: str, html: str, headers: dict[str, str] | None = None) -> str:
        """Serve ``html`` at ``path`` (with extra response headers, e.g. a CSP)."""
        self.pages[path] = html
        self.headers[path] = dict(headers or {})
        return f"{self.origin}{path}"

    def stop(self) -> None:
        self._server.stop()


@dataclass
class Stack:
    """Chatframe, the demo site, and two page servers (one registered, one not)."""

    chatframe: LiveServer
    site_url: str
    state: dict[str, Any]
    trusted_pages: PageServer
    hostile_pages: PageServer
    names: dict[str, str] = field(default_factory=dict)

    @property
    def client_id(self) -> str:
        return str(self.state["client_id"])

    def bot(self, name: str) -> str:
        return next(bot_id for bot_id, bot_name in self.names.items() if bot_name == name)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from authserver import registry
    from authserver.demo import demo_bot_names, seed_demo
    from examples.demo_site import DemoConfig, create_demo_app
    from tests.conftest import Storage

    folder = tmp_path_factory.mktemp("browser")
    port = free_port()
    app = build_app(Storage("sqlite", f"sqlite:///{folder}/chatframe.db"), folder / "keys", port)
    chatframe = LiveServer(app, port).start()
    site_port = free_port()
    site_origin = f"http://localhost:{site_port}"
    trusted, hostile = PageServer(), PageServer()
    with app.app_context():
        state = seed_demo(folder / "demo.json", site_origin)
        client = registry.get_client(state["client_id"])
        registry.update_client(client, origins=[site_origin, trusted.origin])
        names = demo_bot_names(state)
        db.session.remove()
    site = create_demo_app(
        DemoConfig(
            chatframe_url=chatframe.url,
            client_id=state["client_id"],
            client_secret=state["client_secret"],
            bots=state["user_bots"],
        )
    )
    site_server = ThreadServer(site, site_port)

    def alice_code(body: dict[str, str]) -> str | dict[str, str]:
        """A code for alice's bots; for ``body["user"]`` instead when the page names one."""
        backend = Backend(chatframe.url, state["client_id"], state["client_secret"])
        iframe = Iframe(chatframe.url, state["client_id"], body["origin"])
        response = backend.exchange(
            iframe,
            body.get("user", "alice"),
            state["user_bots"]["alice"],
            code_challenge=body["codeChallenge"],
            dpop_jkt=body["dpopJkt"],
        )
        answer = response.json()
        if not response.ok:
            return {"error": answer["error"], "error_description": answer["error_description"]}
        return str(answer["access_token"])

    trusted.code_backend = alice_code
    yield Stack(chatframe, site_origin, state, trusted, hostile, names)
    for server in (site_server, trusted, hostile, chatframe):
        server.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def chat_stack(stack: Stack) -> Iterator[Stack]:
    """The stack with Chatframe's settings restored after the test."""
    yield stack
    stack.chatframe.reset()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 800})
    yield ctx
    ctx.close()
