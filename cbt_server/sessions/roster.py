"""Roster files (pure): CSV or XLSX rows of participants, checked row by row.

Columns (header names in Indonesian or English, any order, case-insensitive):
``NIP``, ``Nama``/``Name``, ``Jabatan``/``Position`` (code or name from the job standards, in
any case), ``Unit``/``Unit Kerja``, ``Kursi``/``Seat``/``PC`` (optional).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cbt_server.tabular import RowProblem, data_rows, map_columns

#: A roster problem is a spreadsheet row problem (row, column, message).
RosterProblem = RowProblem

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
#: how problems name each column (the admin's words, not the internal keys)
COLUMN_LABELS = {
    "nip": "NIP",
    "name": "Nama",
    "position": "Jabatan",
    "unit": "Unit",
    "seat": "Kursi",
}
NIP_PATTERN = re.compile(r"^\d{18}$")
#: what a spreadsheet cell holding a NIP typed as a number reads as (see ``tabular.cell_text``)
NIP_AS_NUMBER = re.compile(r"^\d(\.\d+)?e\+\d+$", re.IGNORECASE)


NIP_AS_NUMBER_MESSAGE = (
    "NIP tersimpan sebagai angka sehingga digit terakhirnya hilang (Excel hanya menyimpan "
    "15 digit); ubah format kolom NIP menjadi Teks lalu ketik ulang NIP-nya"
)


@dataclass(frozen=True)
class RosterRow:
    row: int
    nip: str
    name: str
    position_code: str
    unit: str
    seat: str | None


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
    columns, problems = map_columns(table, HEADERS, REQUIRED)
    if problems:
        return [], [
            RosterProblem(p.row, COLUMN_LABELS.get(p.column or "", p.column), p.message)
            for p in problems
        ]
    by_code = {code.upper(): code for code in positions}
    by_name = {name.strip().lower(): code for code, name in positions.items()}
    seen_nip: dict[str, int] = {nip: 0 for nip in existing_nips}
    seen_seat: dict[str, int] = {}
    result = []
    for number, cell in data_rows(table, columns):
        before = len(problems)
        nip = re.sub(r"\s+", "", cell["nip"])
        if NIP_AS_NUMBER.match(nip):
            problems.append(RosterProblem(number, "NIP", NIP_AS_NUMBER_MESSAGE))
        elif not NIP_PATTERN.match(nip):
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
        code = by_code.get(position.upper()) or by_name.get(position.lower())
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
