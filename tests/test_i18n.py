"""The English catalogue is complete and its compiled .mo matches the .po."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "cbt_server/translations/en/LC_MESSAGES/messages.po"


def _po():  # type: ignore[no-untyped-def]
    with PO.open("rb") as handle:
        return read_po(handle, locale="en")


def test_every_message_in_the_code_is_translated_to_english():
    catalog = _po()
    method_map = [("cbt_server/**.py", "python"), ("cbt_server/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    used = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=keywords
        )
        if isinstance(message, str)
    }
    untranslated = sorted(m for m in used if not (catalog.get(m) and catalog.get(m).string))
    assert not untranslated, "untranslated UI strings (see docs/i18n.md): " + "; ".join(
        untranslated
    )


def test_compiled_catalogue_is_up_to_date():
    with PO.with_suffix(".mo").open("rb") as handle:
        compiled = read_mo(handle)
    source = {m.id: m.string for m in _po() if m.id and m.string}
    compiled_map = {m.id: m.string for m in compiled if m.id}
    assert compiled_map == source, "run the compile step in docs/i18n.md"
