"""The product documentation: ``docs/*.md`` rendered to HTML once, when the app starts.

The Markdown files stay the single source (they are read on GitHub too). Raw HTML in them is
escaped, relative links between them become ``/docs/...`` links, and every heading gets the
same anchor GitHub gives it, so ``protocol.md#errors`` works in both places.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

log = logging.getLogger("chatframe")

PAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")
IMAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}\.(png|svg|jpg|jpeg|gif|webp)$")
# Where a link out of docs/ to a file of the repository is served by Chatframe itself.
SERVED_FILES = {"embed_static/sdk/chatframe.d.ts": "/sdk/v1/chatframe.d.ts"}
# The order of the index; pages not named here follow, alphabetically.
ORDER = ["getting-started", "embedding", "sdk", "csp", "errors", "webview", "protocol"]


@dataclass(frozen=True)
class DocPage:
    """One rendered page: ``name`` is its file name without ``.md``."""

    name: str
    title: str
    summary: str
    html: Markup


@dataclass(frozen=True)
class Handbook:
    """Every page of ``docs/``, in index order, and where the pictures are."""

    pages: Sequence[DocPage]
    images: Path | None

    def page(self, name: str) -> DocPage | None:
        return next((page for page in self.pages if page.name == name), None)


def docs_root() -> Path | None:
    """``docs/`` beside the package (a checkout) or in the working directory (images)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "docs", Path.cwd() / "docs"):
        if candidate.is_dir() and any(candidate.glob("*.md")):
            return candidate
    return None


def load(root: Path | None) -> Handbook:
    """Render every ``*.md`` file of ``root``; no folder gives an empty handbook."""
    if root is None:
        log.warning("docs/ not found beside the package or in the working directory")
        return Handbook(pages=[], images=None)
    pages = [
        _render(path.stem, path.read_text(encoding="utf-8"))
        for path in root.glob("*.md")
        if PAGE_NAME.match(path.stem)
    ]
    rank = {name: index for index, name in enumerate(ORDER)}
    pages.sort(key=lambda page: (rank.get(page.name, len(ORDER)), page.name))
    images = root / "images"
    return Handbook(pages=pages, images=images if images.is_dir() else None)


def _markdown() -> MarkdownIt:
    # CommonMark with tables; html=False escapes any raw HTML in the sources.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    return md


def _render(name: str, source: str) -> DocPage:
    md = _markdown()
    tokens = md.parse(source)
    title: str | None = None  # the first h1
    summary = ""  # the first sentence of the first paragraph
    slugs: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            text = _plain(tokens[index + 1])
            token.attrSet("id", _unique(slug(text), slugs))
            if token.tag == "h1" and title is None:
                title = text
        elif token.type == "paragraph_open" and not summary and index + 1 < len(tokens):
            summary = _plain(tokens[index + 1])
        if token.children:
            for child in token.children:
                _rewrite(child)
    # Safe to mark: markdown-it escapes all raw HTML (html=False) and refuses javascript: links.
    html = Markup(md.renderer.render(tokens, md.options, {}))  # noqa: S704
    title = title or name.replace("-", " ").capitalize()
    return DocPage(name=name, title=title, summary=_sentence(summary), html=html)


def _plain(inline: Token) -> str:
    """The text of an inline token, without Markdown markup."""
    parts = [
        " " if child.type == "softbreak" else child.content
        for child in inline.children or []
        if child.type in ("text", "code_inline", "softbreak")
    ]
    return " ".join("".join(parts).split())


def _sentence(text: str) -> str:
    first = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    return first if len(first) <= 200 else first[:197].rstrip() + "…"


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces become hyphens."""
    kept = re.sub(r"[^\w\- ]", "", text.lower(), flags=re.UNICODE)
    return kept.replace(" ", "-")


def _unique(base: str, seen: dict[str, int]) -> str:
    count = seen.get(base, 0)
    seen[base] = count + 1
    return base if count == 0 else f"{base}-{count}"


def _rewrite(token: Token) -> None:
    if token.type == "link_open":
        href = str(token.attrGet("href") or "")
        token.attrSet("href", link_target(href))
    elif token.type == "image":
        src = str(token.attrGet("src") or "")
        parts = urlsplit(src)
        if not parts.scheme and not parts.netloc and src.startswith("images/"):
            token.attrSet("src", "/docs/" + src)


def link_target(href: str) -> str:
    """Where a link of a docs page points once served under ``/docs``."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path:
        return href  # absolute, or an anchor on the same page
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    path = parts.path
    if "/" not in path and path.endswith(".md"):
        return f"/docs/{path[:-3]}{fragment}"
    if path == "../README.md":
        return "/docs/getting-started"
    if path.startswith("../") and path[3:] in SERVED_FILES:
        return SERVED_FILES[path[3:]] + fragment
    return href
