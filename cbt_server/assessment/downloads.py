"""Tabular downloads: CSV (UTF-8 with BOM, streamed row by row) and XLSX (a titled sheet).

A CSV is written for the spreadsheet that will open it (docs/downloads.md): Excel splits a CSV
on the list separator of the PC's regional settings and reads numbers with its decimal mark, so
an Indonesian Excel needs ``;`` and ``2,33`` where an English one needs ``,`` and ``2.33``.
:func:`csv_style` picks one by the interface language unless the request names one. The XLSX
carries real numbers with number formats, so it is the same file for Excel in any locale.

Every text cell of both goes through :func:`cbt_server.tabular.inert_text` (the CSV through
:class:`cbt_server.tabular.CsvWriter`): a name such as ``=HYPERLINK(...)`` arrives as text with a
leading apostrophe, never as a formula; numbers stay numbers.
"""

from __future__ import annotations

import io
import marshal
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from cbt_server.tabular import CsvWriter, inert_text

BOM = "\ufeff"


@dataclass(frozen=True)
class CsvStyle:
    """Field separator and decimal mark of a CSV file."""

    code: str
    delimiter: str
    decimal: str


CSV_STYLES = {
    "id": CsvStyle("id", ";", ","),
    "en": CsvStyle("en", ",", "."),
}


def csv_style(choice: str | None, language: str) -> CsvStyle:
    """The style named by ``choice`` (``id`` / ``en``), else the interface language's."""
    return CSV_STYLES.get(choice or "") or CSV_STYLES.get(language[:2], CSV_STYLES["id"])


def _csv_number(value: Any, style: CsvStyle) -> str:
    if isinstance(value, float):
        if value != value:
            return ""
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return text.replace(".", style.decimal) if style.decimal != "." else text
    return str(value)


def csv_stream(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    style: CsvStyle = CSV_STYLES["en"],
    chunk: int = 200,
) -> Iterator[bytes]:
    """The file as UTF-8 bytes (BOM first), a chunk of rows at a time.

    No ``sep=`` line: Excel honours it but then ignores the BOM (names with accents break), and
    other programs read it as a row of data.
    """
    buffer = io.StringIO()
    writer = CsvWriter(buffer, style.delimiter, lambda value: _csv_number(value, style))
    buffer.write(BOM)
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


#: Excel number formats per column kind. A "percent" column holds 0–100 and is stored as a
#: fraction so that Excel shows "66.67%" and computes with it as a percentage; a "share" column
#: already holds a fraction (0–1, e.g. the proportion choosing an option).
NUMBER_FORMATS = {
    "number": "0.00",
    "int": "0",
    "percent": "0.00%",
    "decimal3": "0.000",
    "share": "0.0%",
}
#: the width of a number column's values (what the format shows at most, about)
_NUMBER_WIDTH = {"number": 8, "int": 5, "percent": 8, "decimal3": 7, "share": 7}
MIN_WIDTH, MAX_WIDTH = 8, 50
#: header row (1-based): the title and the subtitle are above it
HEADER_ROW = 3


def xlsx_file(
    title: str,
    header: Sequence[str],
    kinds: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    subtitle: str = "",
    frozen_columns: int = 0,
) -> IO[bytes]:
    """A workbook in a temporary file (spilled to disk when large), positioned at its start.

    The sheet: the title (row 1) and subtitle (row 2), the header (row 3, bold, frozen with the
    rows above it and the first ``frozen_columns`` columns, an autofilter over the table), then
    one row per record. ``kinds`` per column: ``text`` or one of :data:`NUMBER_FORMATS`;
    numbers are stored as numbers with a number format. Columns are as wide as their content
    (within limits): the rows are measured first, kept in a temporary file meanwhile, so a long
    sheet never sits in memory.
    """
    widths = [_header_width(label) for label in header]
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
    count = 0
    with spool:
        for row in rows:
            values = [_xlsx_value(v, kinds[i]) for i, v in enumerate(row)]
            for i, value in enumerate(values):
                widths[i] = max(widths[i], _width(value, kinds[i]))
            marshal.dump(values, spool)
            count += 1
        spool.seek(0)
        return _workbook(title, subtitle, header, kinds, widths, frozen_columns, spool, count)


def _workbook(
    title: str,
    subtitle: str,
    header: Sequence[str],
    kinds: Sequence[str],
    widths: list[int],
    frozen_columns: int,
    spool: IO[bytes],
    count: int,
) -> IO[bytes]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_sheet_title(title))
    for index, width in enumerate(widths):
        sheet.column_dimensions[_column_letter(index)].width = min(MAX_WIDTH, width + 2)
    sheet.freeze_panes = f"{_column_letter(frozen_columns)}{HEADER_ROW + 1}"
    last = _column_letter(max(len(header), 1) - 1)
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + max(count, 1)}"
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"

    heading = WriteOnlyCell(sheet, value=_text_cell(title))
    heading.font = Font(bold=True, size=14)
    sheet.append([heading])
    sheet.append([_text_cell(subtitle)] if subtitle else [])
    bold, fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F4E79")
    cells = []
    for label in header:
        cell = WriteOnlyCell(sheet, value=_text_cell(label))
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        cells.append(cell)
    sheet.append(cells)
    formats = [NUMBER_FORMATS.get(kind, "General") for kind in kinds]
    for _ in range(count):
        values = marshal.load(spool)  # noqa: S302 (the temporary file written above)
        row = []
        for i, value in enumerate(values):
            if value is None or kinds[i] == "text":
                row.append(_text_cell(value))
                continue
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = formats[i]
            row.append(cell)
        sheet.append(row)
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned open)
    book.save(out)
    out.seek(0)
    return out


def _text_cell(value: str | None) -> str | None:
    """Text stays text: made inert, it cannot start with "=", which is all openpyxl looks at to
    store a value as a formula, so it is written as a string cell."""
    return None if value is None else inert_text(value)


def _xlsx_value(value: Any, kind: str) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if kind == "int":
        return int(value)
    if kind in ("number", "decimal3", "share"):
        return float(value)
    if kind == "percent":
        return float(value) / 100
    return inert_text(value) if isinstance(value, str) else str(value)


def _header_width(label: str) -> int:
    """Headers wrap: the longest word must fit, and short headers are kept on one line."""
    longest = max((len(word) for word in label.split()), default=0)
    return max(MIN_WIDTH, longest, len(label) if len(label) <= 16 else 0)


def _width(value: Any, kind: str) -> int:
    if value is None:
        return 0
    if kind in _NUMBER_WIDTH:
        return max(_NUMBER_WIDTH[kind], len(f"{value:,.2f}"))
    return max((len(line) for line in str(value).splitlines()), default=0)


def _sheet_title(title: str) -> str:
    for bad in "[]:*?/\\":
        title = title.replace(bad, " ")
    return title[:31] or "Data"


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)
