"""Spreadsheet files (pure): rows of cell texts from CSV or XLSX, header mapping, row problems.

Every upload of people data (rosters, self/supervisor ratings, performance) reads through here,
so they all accept the same files and report problems the same way: row number as a spreadsheet
shows it (the header is row 1), column, and what is wrong.
"""

from __future__ import annotations

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


def read_table(filename: str, data: bytes) -> list[list[str]]:
    """Rows of cell texts from a .csv (UTF-8, with or without BOM; comma or semicolon) or .xlsx."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _read_xlsx(data)
    if name.endswith(".csv"):
        return _read_csv(data)
    raise ValueError("format berkas tidak dikenal: gunakan .csv atau .xlsx")


def _read_csv(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"berkas CSV bukan UTF-8 (byte {error.start})") from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel  # a one-column file has no delimiter to find
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), dialect)]


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise ValueError(f"berkas XLSX tidak dapat dibaca: {error}") from None
    sheet = book.worksheets[0]
    rows = [[cell_text(v) for v in values] for values in sheet.iter_rows(values_only=True)]
    book.close()
    return rows


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # A NIP typed as a number: Excel keeps 15 significant digits only.
        return str(int(value))
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
