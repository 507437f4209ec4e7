"""Roster files (pure): CSV or XLSX rows of participants, checked row by row.

Columns (header names in Indonesian or English, any order, case-insensitive):
``NIP``, ``Nama``/``Name``, ``Jabatan``/``Position`` (code or name from the job standards, in
any case and spacing), ``Unit``/``Unit Kerja``, ``Kursi``/``Seat``/``PC`` (optional).
"""

from __future__ import annotations

import difflib
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


#: up to this many positions, an unknown position's message lists them all
POSITIONS_LISTED = 10
#: where the full list of positions is, for the message when there are more
POSITIONS_SOURCE = "standar jabatan bank soal (folder standards/)"

NIP_AS_NUMBER_MESSAGE = (
    "NIP tersimpan sebagai angka sehingga digit terakhirnya hilang (Excel hanya menyimpan "
    "15 digit); ubah format kolom NIP menjadi Teks lalu ketik ulang NIP-nya"
)


def _key(text: str) -> str:
    """How a position is compared: case ignored, runs of spaces as one."""
    return " ".join(text.split()).casefold()


def _valid_positions(position: str, positions: Mapping[str, str]) -> str:
    """The known positions as ``Name (CODE)``: all of them if few, else the closest first."""
    if not positions:
        return "belum ada standar jabatan; impor bank soal lebih dulu"
    keys = {_key(name): code for code, name in positions.items()}
    keys.update({_key(code): code for code in positions})
    closest = difflib.get_close_matches(_key(position), keys, n=POSITIONS_LISTED, cutoff=0.6)
    order = list(dict.fromkeys(keys[key] for key in closest))
    order += sorted(
        (code for code in positions if code not in order), key=lambda c: _key(positions[c])
    )
    shown = ", ".join(f"{positions[code]} ({code})" for code in order[:POSITIONS_LISTED])
    if len(order) <= POSITIONS_LISTED:
        return f"jabatan yang dikenal: {shown}"
    rest = len(order) - POSITIONS_LISTED
    order_said = "paling mirip lebih dulu" if closest else "urut abjad"
    return (
        f"jabatan yang dikenal ({order_said}): {shown} … dan {rest} lainnya; "
        f"daftar lengkap di {POSITIONS_SOURCE}"
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
    by_key = {_key(name): code for code, name in positions.items()}
    by_key.update({_key(code): code for code in positions})  # a code wins over a same name
    unknown_first: dict[str, int] = {}  # an unknown position → the row whose message lists
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
        code = by_key.get(_key(position))
        if code is None:
            first = unknown_first.setdefault(_key(position), number)
            hint = (
                _valid_positions(position, positions)
                if first == number
                else f"lihat baris {first} untuk jabatan yang dikenal"
            )
            problems.append(
                RosterProblem(
                    number, "Jabatan", f"jabatan {position!r} tidak ada di standar jabatan; {hint}"
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
