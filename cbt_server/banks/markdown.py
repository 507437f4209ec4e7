"""Markdown for stems, options and instructions: CommonMark with tables, no raw HTML.

Rendering escapes any HTML an author typed and refuses unsafe link schemes (markdown-it's link
validation), and Markdown images are switched off: a figure comes only from an item's ``image``
(served by this server), never from a URL that an offline lab could not fetch anyway.

The validator (``find_unsafe_html``) parses the text with the same grammar, but with raw HTML
recognised and every link accepted, so it reports exactly what the renderer would neutralise:
an HTML tag or comment, a ``<script>``, an ``on...=`` handler, a ``javascript:`` / ``vbscript:`` /
``data:`` / ``file:`` link (also when hidden behind entities, in an autolink or in a link
reference). Text that only looks like HTML is left alone: ``3<x`` and ``<table>`` inside
backticks are ordinary text and code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token

_SCRIPT = re.compile(r"<\s*/?\s*script\b", re.IGNORECASE)
_HANDLER = re.compile(r"\bon[a-z]+\s*=", re.IGNORECASE)
#: not HTML to CommonMark (so escaped anyway) but HTML to a browser: ``<svg/onload=...>``,
#: an unclosed ``<img ... onerror=...``, a ``<script`` without its ``>``
_TAG_LIKE = re.compile(r"<[a-z][^<>]*?\bon[a-z]+\s*=|<script\b", re.IGNORECASE)
_UNSAFE_SCHEME = re.compile(r"^(javascript|vbscript|data|file):", re.IGNORECASE)
#: what browsers ignore inside a URL scheme ("java\tscript:" still runs)
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]+")


def _grammar(*, html: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": html, "linkify": False, "typographer": False})
    md.enable("table")
    md.disable("image")
    return md


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    return _grammar(html=False)


@lru_cache(maxsize=1)
def _inspector() -> MarkdownIt:
    md = _grammar(html=True)
    md.validateLink = lambda url: True  # type: ignore[method-assign]  # see every link
    md.disable("entity")  # keep "&lt;script&gt;" (shown as text) apart from "<script>"
    return md


def render_markdown(text: str) -> str:
    """Safe HTML for ``text``: raw HTML is escaped, unsafe links are left as plain text."""
    return _renderer().render(text or "")


def find_unsafe_html(text: str) -> str | None:
    """A short description of the first raw-HTML construct or unsafe link in ``text``, or None."""
    if not text:
        return None
    for token in _tokens(_inspector().parse(text)):
        if token.type in ("html_block", "html_inline"):
            return _describe_html(token.content)
        if token.type == "link_open":
            scheme = _unsafe_scheme(str(token.attrGet("href") or ""))
            if scheme:
                return f"a {scheme}: link"
        if token.type == "text":
            tag_like = _TAG_LIKE.search(token.content)
            if tag_like:
                return _describe_html(token.content[tag_like.start() :])
    return None


def _tokens(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _tokens(token.children)


def _describe_html(html: str) -> str:
    snippet = html.strip().splitlines()[0][:40] if html.strip() else html
    if _SCRIPT.search(html):
        return f"a <script> element ({snippet!r})"
    handler = _HANDLER.search(html)
    if handler:
        name = handler.group(0).rstrip("= \t")
        return f"an HTML tag with an event handler {name}= ({snippet!r})"
    return (
        f"a raw HTML tag ({snippet!r}); write Markdown instead "
        "(to show a '<' as text, write \\< or put it in `code`)"
    )


def _unsafe_scheme(href: str) -> str | None:
    found = _UNSAFE_SCHEME.match(_IGNORED_IN_SCHEME.sub("", unquote(href)))
    return found.group(1).lower() if found else None
