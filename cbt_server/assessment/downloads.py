"""Tabular downloads: CSV (UTF-8 with BOM, streamed row by row) and XLSX (styled, frozen header).

CSV keeps "." as the decimal mark and "," between fields so any program parses it; the XLSX
carries real numbers for Excel in any locale.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

BOM = "\ufeff"


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else ""
    return value


def csv_stream(
    header: Sequence[str], rows: Iterable[Sequence[Any]], chunk: int = 200
) -> Iterator[bytes]:
    """The file as UTF-8 bytes (BOM first), a chunk of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([_csv_value(v) for v in row])
        if count % chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_file(
    title: str, header: Sequence[str], kinds: Sequence[str], rows: Iterable[Sequence[Any]]
) -> IO[bytes]:
    """A workbook in a temporary file (spilled to disk when large), positioned at its start.

    ``kinds`` per column: ``text``, ``number`` or ``int``; numbers are stored as numbers.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_sheet_title(title))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor="1F4E79")
    heading = []
    for label in header:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        heading.append(cell)
    sheet.append(heading)
    for index, label in enumerate(header):
        sheet.column_dimensions[_column_letter(index)].width = max(10, min(40, len(label) + 4))
    for row in rows:
        sheet.append([_xlsx_value(v, kinds[i]) for i, v in enumerate(row)])
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned open)
    book.save(out)
    out.seek(0)
    return out


def _xlsx_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "int":
        return int(value)
    if kind == "number":
        return float(value)
    return str(value)


def _sheet_title(title: str) -> str:
    for bad in "[]:*?/\\":
        title = title.replace(bad, " ")
    return title[:31] or "Data"


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)
