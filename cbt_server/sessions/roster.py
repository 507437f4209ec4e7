"""Roster files (pure): CSV or XLSX rows of participants, checked row by row.

Columns (header names in Indonesian or English, any order, case-insensitive):
``NIP``, ``Nama``/``Name``, ``Jabatan``/``Position`` (code or name from the job standards),
``Unit``/``Unit Kerja``, ``Kursi``/``Seat``/``PC`` (optional).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

HEADERS = {
    "nip": "nip",
    "nama": "name",
    "name": "name",
    "nama lengkap": "name",
    "jabatan": "position",
    "position": "position",
    "kode jabatan": "position",
    "unit": "unit",
    "unit kerja": "unit",
    "unit_kerja": "unit",
    "kursi": "seat",
    "seat": "seat",
    "pc": "seat",
    "komputer": "seat",
}
REQUIRED = ("nip", "name", "position", "unit")
NIP_PATTERN = re.compile(r"^\d{18}$")
MAX_ROWS = 5000


@dataclass(frozen=True)
class RosterRow:
    row: int
    nip: str
    name: str
    position_code: str
    unit: str
    seat: str | None


@dataclass(frozen=True)
class RosterProblem:
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
    dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), dialect)]


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise ValueError(f"berkas XLSX tidak dapat dibaca: {error}") from None
    sheet = book.worksheets[0]
    rows = []
    for values in sheet.iter_rows(values_only=True):
        rows.append([_cell_text(v) for v in values])
    book.close()
    return rows


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # A NIP typed as a number: Excel keeps 15 significant digits only.
        return str(int(value))
    return str(value).strip()


def parse_roster(
    rows: Iterable[list[str]],
    positions: Mapping[str, str],
    existing_nips: Iterable[str] = (),
) -> tuple[list[RosterRow], list[RosterProblem]]:
    """Check every row; return the rows and every problem (row number, column, what is wrong).

    ``positions`` maps position code → name; a row may give either. Rows are numbered as a
    spreadsheet shows them (the header is row 1).
    """
    table = [r for r in rows]
    problems: list[RosterProblem] = []
    if not table or not any(cell for cell in table[0]):
        return [], [RosterProblem(1, None, "baris judul kolom tidak ada")]
    columns: dict[str, int] = {}
    for index, header in enumerate(table[0]):
        key = HEADERS.get(header.strip().lower())
        if key and key not in columns:
            columns[key] = index
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        return [], [RosterProblem(1, c, "kolom wajib tidak ada") for c in missing]
    if len(table) - 1 > MAX_ROWS:
        return [], [RosterProblem(None, None, f"lebih dari {MAX_ROWS} baris")]
    by_name = {name.strip().lower(): code for code, name in positions.items()}
    seen_nip: dict[str, int] = {nip: 0 for nip in existing_nips}
    seen_seat: dict[str, int] = {}
    result = []
    for number, raw in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in raw):
            continue
        cell = {key: (raw[i].strip() if i < len(raw) else "") for key, i in columns.items()}
        before = len(problems)
        nip = re.sub(r"\s+", "", cell["nip"])
        if not NIP_PATTERN.match(nip):
            problems.append(RosterProblem(number, "NIP", f"NIP harus 18 angka, tertulis {nip!r}"))
        elif nip in seen_nip:
            first = seen_nip[nip]
            where = f"baris {first}" if first else "peserta sesi ini"
            problems.append(RosterProblem(number, "NIP", f"NIP {nip} ganda (sudah ada di {where})"))
        else:
            seen_nip[nip] = number
        if not cell["name"]:
            problems.append(RosterProblem(number, "Nama", "nama kosong"))
        position = cell["position"]
        code = position if position in positions else by_name.get(position.lower())
        if code is None:
            problems.append(
                RosterProblem(
                    number, "Jabatan", f"jabatan {position!r} tidak ada di standar jabatan"
                )
            )
        if not cell["unit"]:
            problems.append(RosterProblem(number, "Unit", "unit kerja kosong"))
        seat = cell.get("seat") or None
        if seat:
            if seat in seen_seat:
                problems.append(
                    RosterProblem(number, "Kursi", f"kursi {seat} ganda (baris {seen_seat[seat]})")
                )
            seen_seat[seat] = number
        if len(problems) == before:
            result.append(RosterRow(number, nip, cell["name"], code or "", cell["unit"], seat))
    if not result and not problems:
        problems.append(RosterProblem(None, None, "tidak ada baris peserta"))
    return result, problems
