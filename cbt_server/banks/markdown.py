"""Markdown for stems, options and instructions: CommonMark with tables, no raw HTML.

Rendering escapes any HTML an author typed and refuses unsafe link schemes (markdown-it's link
validation), and Markdown images are switched off: a figure comes only from an item's ``image``
(served by this server), never from a URL that an offline lab could not fetch anyway.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt

_TAG = re.compile(r"</?[a-zA-Z!?][^>]*>?")
_AUTOLINK = re.compile(r"<(https?://|mailto:)[^>\s]*>", re.IGNORECASE)
_SCHEME = re.compile(r"\]\(\s*<?\s*(javascript|vbscript|data|file):", re.IGNORECASE)
_HANDLER = re.compile(r"\bon[a-z]+\s*=", re.IGNORECASE)


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.disable("image")
    return md


def render_markdown(text: str) -> str:
    """Safe HTML for ``text``: raw HTML is escaped, unsafe links are left as plain text."""
    return _renderer().render(text or "")


def find_unsafe_html(text: str) -> str | None:
    """A short description of the first raw-HTML construct in ``text``, or None."""
    if not text:
        return None
    stripped = _AUTOLINK.sub("", text)
    tag = _TAG.search(stripped)
    if tag:
        snippet = tag.group(0)[:40]
        if re.match(r"<\s*script", snippet, re.IGNORECASE):
            return f"a <script> element ({snippet!r})"
        return f"a raw HTML tag ({snippet!r}); write Markdown instead"
    scheme = _SCHEME.search(stripped)
    if scheme:
        return f"a {scheme.group(1).lower()}: link"
    if _HANDLER.search(stripped) and "<" in stripped:
        return "an on...= event handler"
    return None
