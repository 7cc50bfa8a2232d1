"""Rendering docs/*.md for /docs: every file present becomes a page, safely and with its links."""

from __future__ import annotations

from pathlib import Path

from authserver import docpages


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_a_new_markdown_file_appears_in_the_index_by_itself(tmp_path: Path) -> None:
    write(tmp_path, "getting-started.md", "# Getting started\n\nStart here.\n")
    write(tmp_path, "webview.md", "# Native apps\n\nEmbed the chat in a WebView.\n")
    write(tmp_path, "zz-notes.md", "# Notes\n\nLast.\n")
    handbook = docpages.load(tmp_path)
    assert [page.name for page in handbook.pages] == ["getting-started", "webview", "zz-notes"]
    webview = handbook.page("webview")
    assert webview is not None
    assert (webview.title, webview.summary) == ("Native apps", "Embed the chat in a WebView.")


def test_raw_html_in_a_page_is_shown_as_text_never_run(tmp_path: Path) -> None:
    write(tmp_path, "page.md", "# Page\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n")
    html = docpages.load(tmp_path).pages[0].html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html


def test_links_between_pages_point_into_docs_and_headings_get_githubs_anchors(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "page.md",
        "# Page\n\nSee [errors](errors.md#token-endpoint--post-oauthtoken), "
        "[types](../embed_static/sdk/chatframe.d.ts), [here](#get-apiv1openapijson) "
        "and [the web](https://example.com/a.md).\n\n"
        "## `GET /api/v1/openapi.json`\n\n## Bots\n\n## Bots\n",
    )
    html = docpages.load(tmp_path).pages[0].html
    assert 'href="/docs/errors#token-endpoint--post-oauthtoken"' in html
    assert 'href="/sdk/v1/chatframe.d.ts"' in html
    assert 'href="#get-apiv1openapijson"' in html and 'id="get-apiv1openapijson"' in html
    assert 'href="https://example.com/a.md"' in html
    assert 'id="bots"' in html and 'id="bots-1"' in html


def test_files_that_are_not_page_names_are_left_out(tmp_path: Path) -> None:
    write(tmp_path, "Good-Page.md", "# Upper case\n")
    write(tmp_path, ".hidden.md", "# Hidden\n")
    write(tmp_path, "fine.md", "# Fine\n")
    assert [page.name for page in docpages.load(tmp_path).pages] == ["fine"]


def test_no_docs_folder_gives_an_empty_handbook() -> None:
    assert docpages.load(None).pages == []
