"""Spreadsheet files (pure): rows of cell texts from CSV or XLSX, header mapping, row problems.

Every upload of people data (rosters, self/supervisor ratings, performance) reads through here,
so they all accept the same files and report problems the same way: row number as a spreadsheet
shows it (the header is row 1), column, and what is wrong.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_ROWS = 5000


@dataclass(frozen=True)
class RowProblem:
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"baris {self.row}")
        if self.column:
            where.append(f"kolom {self.column}")
        return (", ".join(where) + ": " if where else "") + self.message


class TableError(ValueError):
    """A file that cannot be read as a table; says where when it can."""

    def __init__(self, message: str, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.column = column

    def problem(self) -> RowProblem:
        return RowProblem(self.row, self.column, str(self))


def read_table(filename: str, data: bytes) -> list[list[str]]:
    """Rows of cell texts from a .csv (UTF-8, with or without BOM; comma or semicolon) or .xlsx.

    Raises :class:`TableError` (a ``ValueError``) when the file cannot be read.
    """
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _read_xlsx(data)
    if name.endswith(".csv"):
        return _read_csv(data)
    raise TableError("format berkas tidak dikenal: gunakan .csv atau .xlsx")


def _read_csv(data: bytes) -> list[list[str]]:
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        raise _not_utf8(data[bom:], error.start, bom) from None
    dialect = _dialect(text)
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), dialect)]


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    sample = text[:4096]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        return csv.excel  # a one-column file has no delimiter to find


def _not_utf8(body: bytes, at: int, offset: int) -> TableError:
    """Name the row (and, from the header, the column) of the first byte that is not UTF-8.

    Typically a file saved as "CSV" by an Excel set to Windows-1252: names with accents break.
    """
    before = body[:at].decode("utf-8")  # everything before the first bad byte is valid
    complete = before[: before.rfind("\n") + 1] or before  # sniff whole lines only
    records = list(csv.reader(io.StringIO(before), _dialect(complete)))
    if not records or before.endswith(("\n", "\r")):
        records.append([""])  # the bad byte starts a new row
    index = len(records[-1]) - 1
    header = records[0] if len(records) > 1 else []
    column = header[index].strip() if index < len(header) else None
    return TableError(
        f"berkas CSV bukan UTF-8 (byte {offset + at}, 0x{body[at]:02x}): "
        'simpan ulang sebagai "CSV UTF-8"',
        row=len(records),
        column=column or None,
    )


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise TableError(f"berkas XLSX tidak dapat dibaca: {error}") from None
    sheet = book.worksheets[0]
    rows = [[cell_text(v) for v in values] for values in sheet.iter_rows(values_only=True)]
    book.close()
    return rows


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        if abs(value) < 1e15:
            return str(int(value))
        # A NIP typed as a number: Excel keeps 15 significant digits only, so the last digits
        # are already lost. Keep the float's own text so that checks refuse it rather than
        # accepting a made-up number.
        return repr(value)
    return str(value).strip()


def map_columns(
    table: Sequence[Sequence[str]], headers: Mapping[str, str], required: Sequence[str]
) -> tuple[dict[str, int], list[RowProblem]]:
    """Find each known column in the header row; a problem per missing required column."""
    if not table or not any(cell for cell in table[0]):
        return {}, [RowProblem(1, None, "baris judul kolom tidak ada")]
    columns: dict[str, int] = {}
    for index, header in enumerate(table[0]):
        key = headers.get(header.strip().lower())
        if key and key not in columns:
            columns[key] = index
    problems = [
        RowProblem(1, name, "kolom wajib tidak ada") for name in required if name not in columns
    ]
    if not problems and len(table) - 1 > MAX_ROWS:
        problems.append(RowProblem(None, None, f"lebih dari {MAX_ROWS} baris"))
    return columns, problems


def data_rows(
    table: Sequence[Sequence[str]], columns: Mapping[str, int]
) -> list[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, {column key: text}) for every non-blank row under the header."""
    rows = []
    for number, raw in enumerate(table[1:], start=2):
        if not any(str(cell).strip() for cell in raw):
            continue
        rows.append(
            (number, {key: (raw[i].strip() if i < len(raw) else "") for key, i in columns.items()})
        )
    return rows


def parse_number(text: str) -> float | None:
    """A number as typed in an Indonesian or English sheet: "3,5" or "3.5"; None if not one."""
    cleaned = text.strip().replace(" ", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None
