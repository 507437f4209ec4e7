"""Numbers on pages in the interface language's way: ``2,33`` in Bahasa Indonesia, ``2.33`` in
English (Flask-Babel's ``format_decimal`` with the request's locale)."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_decimal

#: what a page shows for a missing number
BLANK = "—"


def decimal(value: float | int | None, digits: int = 2) -> str:
    """``value`` with exactly ``digits`` decimals and the locale's marks, or "—" for None."""
    if value is None or (isinstance(value, float) and value != value):
        return BLANK
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(value, format=pattern)


def register_number_filters(app: Flask) -> None:
    """``{{ x|decimal }}``, ``{{ x|decimal(1) }}``."""
    app.add_template_filter(decimal, "decimal")
