"""``cbt_server.banks.markdown``: safe rendering of stems and options, and the raw-HTML finder."""

from __future__ import annotations

import re

import pytest

from cbt_server.banks.markdown import find_unsafe_html, render_markdown

# Things that must never reach a lab PC as markup: each is escaped or left as plain text.
HOSTILE = [
    "<script>alert(1)</script>",
    "Teks <script>alert(1)</script> di tengah kalimat.",
    "<img src=x onerror=alert(1)>",
    "Gambar <img src=x onerror=alert(1)> di tengah.",
    '<p onclick="alert(1)">klik</p>',
    "<svg/onload=alert(1)>",
    "<iframe src=https://example.org></iframe>",
    '<a href="javascript:alert(1)">klik</a>',
    "<div>\nblok HTML\n</div>",
    "<!-- komentar -->",
    "<style>body{display:none}</style>",
]

UNSAFE_LINKS = {
    "[klik](javascript:alert(1))": "javascript",
    "[klik](JavaScript:alert(1))": "javascript",
    "[klik](jav&#x61;script:alert(1))": "javascript",
    "[klik](<java script:alert(1)>)": "javascript",
    "<javascript:alert(1)>": "javascript",
    "[klik][1]\n\n[1]: javascript:alert(1)": "javascript",
    "![gambar](javascript:alert(1))": "javascript",
    "[klik](vbscript:msgbox(1))": "vbscript",
    "[klik](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)": "data",
    "[klik](data:image/png;base64,iVBORw0KGgo=)": "data",
    "[klik](file:///etc/passwd)": "file",
}

#: what may appear in rendered HTML: the elements CommonMark + tables produce, and nothing else
ALLOWED_TAGS = {
    "p", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote", "a", "hr", "br",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def _tags(html: str) -> set[str]:
    return {name.lower() for name in re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", html)}


def _attributes(html: str) -> set[str]:
    """Attribute names on real tags (an escaped "&lt;img onerror=" is text, not a tag)."""
    found: set[str] = set()
    for attrs in re.findall(r"<[a-zA-Z][a-zA-Z0-9]*(\s[^>]*)>", html):
        unquoted = re.sub(r"\"[^\"]*\"|'[^']*'", '""', attrs)
        found |= {name.lower() for name in re.findall(r"([a-zA-Z_:][-\w:.]*)\s*=", unquoted)}
    return found


def _scheme(href: str) -> str | None:
    """The scheme a browser would see (it ignores leading spaces and control characters)."""
    found = re.match(r"[\x00-\x20]*([a-zA-Z][a-zA-Z0-9+.-]*):", href)
    return found.group(1).lower() if found else None


# ---- rendering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_raw_html_is_escaped_not_rendered(text: str):
    html = render_markdown(text)
    assert _tags(html) <= ALLOWED_TAGS, html
    assert _attributes(html) == set(), html
    assert "&lt;" in html
    for word in ("<script", "<img", "<svg", "<iframe", "<div", "<style", "<!--"):
        assert word not in html, html


def test_an_event_handler_survives_only_as_visible_text():
    html = render_markdown("<img src=x onerror=alert(1)>")
    assert html.strip() == "<p>&lt;img src=x onerror=alert(1)&gt;</p>"


@pytest.mark.parametrize("text", sorted(UNSAFE_LINKS))
def test_unsafe_links_do_not_become_links(text: str):
    html = render_markdown(text)
    assert _attributes(html) <= {"href"}, html
    for href in re.findall(r'href="([^"]*)"', html):
        scheme = _scheme(href)
        # markdown-it lets a raster data:image URL through: an image is not a script
        assert scheme not in ("javascript", "vbscript", "file") and (
            scheme != "data" or href.startswith("data:image/png")
        ), html


def test_markdown_images_are_switched_off():
    html = render_markdown("![peta](peta.png)")
    assert "<img" not in html


def test_ordinary_markdown_renders():
    html = render_markdown(
        "Bacalah **teks** berikut dengan *cermat*:\n\n"
        "1. langkah satu\n2. langkah dua\n\n"
        "- butir\n- butir lain\n\n"
        "| Tahun | Jumlah |\n|---|---:|\n| 2024 | 10 |\n\n"
        "Gunakan `print(x)` atau:\n\n```\nx = 1\n```\n\n"
        "> kutipan\n\n[Kemdikbud](https://www.kemdikbud.go.id)"
    )
    assert "<strong>teks</strong>" in html and "<em>cermat</em>" in html
    assert "<ol>" in html and "<li>langkah dua</li>" in html
    assert "<ul>" in html and "<li>butir lain</li>" in html
    assert "<table>" in html and "<th>Tahun</th>" in html and "<td>2024</td>" in html
    assert 'style="text-align:right"' in html
    assert "<code>print(x)</code>" in html and "<pre><code>x = 1\n</code></pre>" in html
    assert "<blockquote>" in html
    assert '<a href="https://www.kemdikbud.go.id">Kemdikbud</a>' in html


def test_text_that_only_looks_like_html_is_shown_as_text():
    assert render_markdown("Jika 3<x dan x<5").strip() == "<p>Jika 3&lt;x dan x&lt;5</p>"
    assert "<code>&lt;table&gt;</code>" in render_markdown("Tag `<table>` membuat tabel.")


def test_empty_text_renders_nothing():
    assert render_markdown("") == "" and render_markdown(None) == ""  # type: ignore[arg-type]


# ---- the validator's finder -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "Teks <script>alert(1)</script>",
        "<SCRIPT SRC=https://example.org/x.js></SCRIPT>",
        "teks <script src=x",  # not HTML to CommonMark, but a browser would start a script
    ],
)
def test_script_elements_are_named(text: str):
    found = find_unsafe_html(text)
    assert found is not None and found.startswith("a <script> element"), found


@pytest.mark.parametrize(
    ("text", "handler"),
    [
        ("<img src=x onerror=alert(1)>", "onerror"),
        ("Teks <img src=x onerror=alert(1)> lagi", "onerror"),
        ('<p onclick="alert(1)">klik</p>', "onclick"),
        ("<body onload = alert(1)>", "onload"),
        ("<svg/onload=alert(1)>", "onload"),  # no space before the attribute: a browser accepts it
        ("<img src=x onerror=alert(1)", "onerror"),  # unclosed
    ],
)
def test_event_handlers_are_named(text: str, handler: str):
    found = find_unsafe_html(text)
    assert found is not None and f"event handler {handler}=" in found, found


@pytest.mark.parametrize(("text", "scheme"), sorted(UNSAFE_LINKS.items()))
def test_unsafe_link_schemes_are_named(text: str, scheme: str):
    assert find_unsafe_html(text) == f"a {scheme}: link"


@pytest.mark.parametrize(
    "text",
    [
        "<b>tebal</b>",
        "<div>\nblok HTML\n</div>",
        "<!-- komentar -->",
        '<a href="https://example.org">tautan</a>',
        "| a | b |\n|---|---|\n| <i>miring</i> | x |",
        "Nilai a<b dan b>c",  # a valid tag to CommonMark: the author must escape the "<"
    ],
)
def test_other_raw_html_is_refused_with_a_hint(text: str):
    found = find_unsafe_html(text)
    assert found is not None and found.startswith("a raw HTML tag"), found
    assert "write Markdown instead" in found and "\\<" in found


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Teks biasa dengan **tebal**, *miring* dan daftar:\n\n- satu\n- dua",
        "| Tahun | Jumlah |\n|---|---|\n| 2024 | 10 |",
        "Jika 3<x dan x<5, berapakah x?",
        "Tag `<table>` membuat tabel dan `<script>` memuat program.",
        "```\n<script>alert(1)</script>\n```",
        "Tulis &lt;script&gt; untuk menampilkan teksnya.",
        "Lihat <https://www.bkn.go.id> atau [BKN](https://www.bkn.go.id) atau <mailto:a@b.id>.",
        "x < y dan y onion=3",
    ],
)
def test_ordinary_markdown_is_not_refused(text: str):
    assert find_unsafe_html(text) is None
