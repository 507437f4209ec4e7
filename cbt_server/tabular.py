"""Spreadsheet files (pure): rows of cell texts from an uploaded CSV or XLSX, within limits;
header mapping and row problems; and the cell rule every CSV/XLSX download is written by.

Every upload of people data (rosters, self/supervisor ratings, performance) reads through here,
so they all accept the same files and report problems the same way: row number as a spreadsheet
shows it (the header is row 1), column, and what is wrong. A file beyond the limits below is
refused before its cells are built: an XLSX's zip directory is checked first, then its sheet is
streamed cell by cell, ignoring the size the sheet claims (docs/downloads.md, "Uploads").
"""

from __future__ import annotations

import codecs
import csv
import io
import numbers
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

# ---- limits of an uploaded table, in one place (docs/downloads.md lists them) -------------------
MB = 1024 * 1024
#: the file as uploaded
MAX_FILE_BYTES = 5 * MB
#: data rows under the header row
MAX_ROWS = 5000
#: columns (the widest upload, performance results, has 8)
MAX_COLUMNS = 30
#: characters in one cell (the longest stored field is 300)
MAX_CELL_CHARS = 1000
#: parts of an XLSX's zip (Excel writes about ten)
MAX_ZIP_MEMBERS = 100
#: all parts of an XLSX unpacked, as its zip directory states them
MAX_UNCOMPRESSED_BYTES = 20 * MB
#: XML elements of the sheet, empty ones included (a row; a cell and its value are two or
#: three): 5000 rows of 9 text columns or 14 of numbers; this bounds a file's reading time
MAX_SHEET_ELEMENTS = 150_000


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

    Row ``i`` of the result is the spreadsheet's row ``i + 1``; blank rows at the end are left
    out. Raises :class:`TableError` (a ``ValueError``) when the file cannot be read or is beyond
    the limits above.
    """
    name = filename.lower()
    if not name.endswith((".xlsx", ".csv")):
        raise TableError("format berkas tidak dikenal: gunakan .csv atau .xlsx")
    if len(data) > MAX_FILE_BYTES:
        raise TableError(
            f"berkas {len(data) / MB:.1f} MB, lebih dari batas {MAX_FILE_BYTES // MB} MB"
        )
    if name.endswith(".xlsx"):
        return _read_xlsx(data)
    return _read_csv(data)


class _Rows:
    """Rows as they arrive, checked against the limits before they are kept.

    Blank rows are only counted until a row with content follows, so neither a run of blank
    lines nor a far-away cell makes filler rows.
    """

    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self._width = 0

    def add(self, number: int, cells: Mapping[int, str]) -> None:
        """Row ``number`` (1-based) with its non-blank cells by column (1-based)."""
        for column, text in cells.items():
            check_cell(number, column, text)
        if not cells:
            return
        if number <= len(self.rows):  # an XLSX may list a row twice or out of order
            row = self.rows[number - 1]
        else:
            self.rows.extend([] for _ in range(number - len(self.rows)))
            row = self.rows[-1]
        width = max(cells)
        row.extend("" for _ in range(width - len(row)))
        for column, text in cells.items():
            row[column - 1] = text
        self._width = max(self._width, width)

    def table(self) -> list[list[str]]:
        for row in self.rows:
            row.extend("" for _ in range(self._width - len(row)))
        return self.rows


def check_cell(row: int, column: int, text: str) -> None:
    """Refuse a non-blank cell outside the limits, naming where it is."""
    if row > MAX_ROWS + 1:
        raise TableError(
            f"lebih dari {MAX_ROWS} baris data di bawah baris judul: bagi menjadi beberapa berkas",
            row,
            _letter(column),
        )
    if column > MAX_COLUMNS:
        raise TableError(f"lebih dari {MAX_COLUMNS} kolom", row, _letter(column))
    if len(text) > MAX_CELL_CHARS:
        raise TableError(
            f"isi sel {len(text)} karakter, lebih dari batas {MAX_CELL_CHARS} karakter",
            row,
            _letter(column),
        )


def _letter(column: int) -> str:
    from openpyxl.utils import get_column_letter

    try:
        return get_column_letter(column)
    except ValueError:  # beyond XFD: no letter in Excel either
        return str(column)


def _read_csv(data: bytes) -> list[list[str]]:
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        raise _not_utf8(data[bom:], error.start, bom) from None
    rows = _Rows()
    number = 0
    try:
        for number, record in enumerate(csv.reader(io.StringIO(text), _dialect(text)), start=1):
            rows.add(number, {i: c.strip() for i, c in enumerate(record, start=1) if c.strip()})
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            message = f"isi sel lebih dari batas {MAX_CELL_CHARS} karakter"
        else:
            message = f"berkas CSV rusak: {error}"
        raise TableError(message, row=number + 1) from None
    return rows.table()


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
    _check_zip(data)
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise TableError(f"berkas XLSX tidak dapat dibaca: {error}") from None
    try:
        if not book.worksheets:
            raise TableError("berkas XLSX tidak berisi lembar kerja")
        rows = _Rows()
        for number, cells in _sheet_rows(book, book.worksheets[0]):
            rows.add(number, cells)
        return rows.table()
    except TableError:
        raise
    except Exception as error:  # a damaged sheet: bad XML, bad references
        raise TableError(f"berkas XLSX rusak: {error}") from None
    finally:
        book.close()


def _check_zip(data: bytes) -> None:
    """Refuse a zip bomb from its directory, before anything is unpacked.

    The sizes in the directory are a true bound: Python's zipfile never unpacks more than a
    member's stated size (and fails its CRC check if the data is cut short).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise TableError(
            "berkas XLSX tidak dapat dibaca: isinya bukan arsip zip seperti berkas .xlsx; "
            'simpan ulang dari Excel sebagai "Buku Kerja Excel (.xlsx)"'
        ) from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise TableError(
            f"berkas XLSX berisi {len(members)} bagian, lebih dari batas {MAX_ZIP_MEMBERS}"
        )
    total = 0
    for member in members:
        total += member.file_size
        if total > MAX_UNCOMPRESSED_BYTES:
            raise TableError(
                f"isi berkas XLSX lebih dari {MAX_UNCOMPRESSED_BYTES // MB} MB setelah dibuka "
                f"(bagian {member.filename}: {member.file_size / MB:.1f} MB)"
            )


def _sheet_rows(book: Any, sheet: Any) -> Iterator[tuple[int, dict[int, str]]]:
    """(row number, {column: text}) of the sheet's rows with content, streamed from its XML.

    openpyxl's own row reader pads every row to the ``<dimension>`` the sheet claims and builds
    every missing row up to the next one that exists: a few KB can claim 1,048,576 × 16,384
    cells. Here each ``<c>`` is decoded by openpyxl's cell parser (shared strings, dates as in
    read-only mode), checked as it ends and cleared, so memory and time follow the content and
    :data:`MAX_SHEET_ELEMENTS`, not the claims.
    """
    from openpyxl.worksheet._reader import CELL_TAG, DATA_TAG, ROW_TAG, WorkSheetParser
    from openpyxl.xml.functions import iterparse  # openpyxl's own choice (defusedxml if there)

    parser = WorkSheetParser(
        None,
        sheet._shared_strings,
        data_only=True,
        epoch=book.epoch,
        date_formats=book._date_formats,
        timedelta_formats=book._timedelta_formats,
    )
    row_number = 0  # the last row's, for a row without its number
    pending: list[tuple[int | None, int, str]] = []  # the row's cells; None: the row's number
    seen = 0
    with book._archive.open(sheet._worksheet_path) as source:
        for _event, element in iterparse(source):  # end events: the element is complete
            seen += 1
            if seen > MAX_SHEET_ELEMENTS:
                raise TableError(
                    f"lembar kerja terlalu besar (lebih dari {MAX_SHEET_ELEMENTS} unsur XML)",
                    row=row_number + 1,
                )
            tag = element.tag
            if tag == CELL_TAG:
                placed = element.get("r") is not None
                row, column, text = _cell(parser, element)
                element.clear()
                if not text:
                    continue
                if placed:
                    check_cell(row, column, text)  # a far-out cell is refused at once
                elif column > MAX_COLUMNS:
                    raise TableError(f"lebih dari {MAX_COLUMNS} kolom", None, _letter(column))
                pending.append((row if placed else None, column, text))
            elif tag == ROW_TAG:
                r = element.get("r")
                row_number = int(r) if r else row_number + 1
                element.clear()
                parser.col_counter = 0
                rows: dict[int, dict[int, str]] = {}
                for row, column, text in pending:
                    rows.setdefault(row or row_number, {})[column] = text
                pending = []
                for number in sorted(rows):
                    yield number, rows[number]
            elif tag == DATA_TAG:
                break  # nothing after the data is needed


def _cell(parser: Any, element: Any) -> tuple[int, int, str]:
    """(row, column, text) of a ``<c>`` element; the parser keeps count of columns."""
    if len(element) == 0:  # no value: only its place counts
        ref = element.get("r")
        parser.col_counter = _column_of(ref) if ref else parser.col_counter + 1
        return parser.row_counter, parser.col_counter, ""
    if element.get("t") == "inlineStr":
        # openpyxl decodes inline text through its descriptor classes (~100 µs a cell, most of
        # the time of a long sheet); the text is the <t> of <is> and of its runs.
        text = _inline_text(element)
        for child in list(element):
            element.remove(child)
        cell = parser.parse_cell(element)
        return cell["row"], cell["column"], text.strip()
    cell = parser.parse_cell(element)
    return cell["row"], cell["column"], cell_text(cell["value"])


def _column_of(ref: str) -> int:
    from openpyxl.utils.cell import coordinate_to_tuple

    return coordinate_to_tuple(ref)[1]


def _inline_text(element: Any) -> str:
    from openpyxl.xml.constants import SHEET_MAIN_NS

    inline = element.find(f"{{{SHEET_MAIN_NS}}}is")
    if inline is None:
        return ""
    t, run = f"{{{SHEET_MAIN_NS}}}t", f"{{{SHEET_MAIN_NS}}}r"
    parts = [inline.findtext(t) or ""]
    parts += [r.findtext(t) or "" for r in inline.findall(run)]
    return "".join(parts)


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
    # The row limit is checked while reading (:func:`read_table`).
    problems = [
        RowProblem(1, name, "kolom wajib tidak ada") for name in required if name not in columns
    ]
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


# ---- writing: the cell rule of every CSV and XLSX download (docs/downloads.md) -----------------

#: A text cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets
#: (OWASP "CSV injection"); tab and carriage return because programs may strip them first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_text(text: str) -> str:
    """Text that no spreadsheet will run: an apostrophe before a formula's first character.

    Only text: a number, negative or not, is written as a number by the callers.
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class CsvWriter:
    """The one way a CSV is written: text cells made inert, numbers as ``number`` spells them.

    ``None`` is an empty cell; anything else that is not a number is written as its text.
    """

    def __init__(
        self,
        out: IO[str],
        delimiter: str = ",",
        number: Callable[[Any], str] = str,
    ) -> None:
        self._writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        self._number = number

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([self._cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)

    def _cell(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return self._number(value)
        return inert_text(value if isinstance(value, str) else str(value))
