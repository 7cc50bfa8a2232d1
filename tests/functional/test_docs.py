"""The documentation served at /docs and the landing page at the issuer's root."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from tests.conftest import LiveServer

DOCS = Path(__file__).resolve().parents[2] / "docs"


class Links(HTMLParser):
    """Every href/src, id and script of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if values.get("id"):
            self.ids.add(str(values["id"]))
        for name in ("href", "src"):
            if values.get(name):
                self.links.append(str(values[name]))


def parse(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


def test_the_issuer_root_is_a_landing_page_linking_docs_and_console(server: LiveServer) -> None:
    response = requests.get(server.url + "/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    links = parse(response.text).links
    assert "/docs/" in links or "/docs" in links
    assert "/console/" in links
    assert "/docs/getting-started" in links


def test_the_index_lists_every_markdown_file_of_docs(server: LiveServer) -> None:
    index = requests.get(server.url + "/docs", timeout=10)
    assert index.status_code == 200
    listed = {link for link in parse(index.text).links if link.startswith("/docs/")}
    expected = {f"/docs/{path.stem}" for path in DOCS.glob("*.md")}
    assert expected <= listed
    assert {"/docs/getting-started", "/docs/sdk", "/docs/errors", "/docs/csp"} <= expected


def test_docs_pages_run_no_script_and_cannot_be_framed(server: LiveServer) -> None:
    for path in ("/", "/docs", "/docs/protocol", "/docs/no-such-page"):
        response = requests.get(server.url + path, timeout=10)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp  # falls back to default-src 'none': no script at all
        assert response.headers["X-Frame-Options"] == "DENY"
        assert parse(response.text).scripts == 0


def test_every_link_between_docs_pages_arrives_at_its_anchor(server: LiveServer) -> None:
    """Relative .md links become /docs/... links, and every #anchor exists on its page."""
    pages: dict[str, Links] = {}
    for path in DOCS.glob("*.md"):
        response = requests.get(f"{server.url}/docs/{path.stem}", timeout=10)
        assert response.status_code == 200, path.name
        pages[f"/docs/{path.stem}"] = parse(response.text)
    for page, links in pages.items():
        for link in links.links:
            assert ".md" not in urlsplit(link).path, f"{page} links to {link}"
            target = urlsplit(urljoin(page, link))
            if target.netloc or target.path in ("/docs", "/docs/"):
                continue
            if target.path.startswith("/docs/") and not target.path.startswith("/docs/images/"):
                assert target.path in pages, f"{page} links to a missing page {link}"
                if target.fragment:
                    assert target.fragment in pages[target.path].ids, f"{page}: {link}"
            elif not target.path.startswith("/console"):
                status = requests.get(server.url + target.path, timeout=10).status_code
                assert status == 200, f"{page} links to {link}: {status}"


def test_a_markdown_file_name_redirects_to_its_page(server: LiveServer) -> None:
    response = requests.get(server.url + "/docs/protocol.md", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/docs/protocol")


def test_an_unknown_page_is_a_404_that_lists_the_pages(server: LiveServer) -> None:
    response = requests.get(server.url + "/docs/<img src=x onerror=alert(1)>", timeout=10)
    assert response.status_code == 404
    assert "<img src=x" not in response.text
    assert "/docs/getting-started" in parse(response.text).links


def test_the_error_codes_page_covers_every_documented_error(server: LiveServer) -> None:
    """Every error code the protocol, management API and SDK document has a fix."""
    protocol = (DOCS / "protocol.md").read_text().split("## Security events")[0]  # not errors
    sources = protocol + (DOCS / "management-api.md").read_text()
    sources += (DOCS / "embedding.md").read_text()
    prefixes = "invalid|unsupported|insufficient|rate|not|method|get|origin|iframe"
    documented = set(re.findall(rf"`((?:{prefixes})_[a-z_]+)`", sources))
    page = requests.get(server.url + "/docs/errors", timeout=10).text
    assert documented and not [code for code in documented if f"<code>{code}</code>" not in page]
