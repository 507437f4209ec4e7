"""Roster files: CSV and XLSX, every bad row named, nothing accepted from a bad file."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from cbt_server.sessions.roster import parse_roster
from cbt_server.tabular import read_table

POSITIONS = {"JF-WP-AP": "Widyaprada Ahli Pertama", "PELAKSANA": "Pelaksana"}
GOOD_CSV = (
    "NIP;Nama;Jabatan;Unit Kerja;Kursi\n"
    "198703152010012001;Siti Nurhaliza;JF-WP-AP;Tim Mutu I;PC-01\n"
    "199001202015031002;Budi Šantoso;Pelaksana;Subbagian Umum;PC-02\n"
)


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_good_csv_with_bom_and_semicolons():
    rows, problems = parse_roster(
        read_table("r.csv", "\ufeff".encode() + GOOD_CSV.encode()), POSITIONS
    )
    assert problems == []
    assert [(r.nip, r.name, r.position_code, r.seat) for r in rows] == [
        ("198703152010012001", "Siti Nurhaliza", "JF-WP-AP", "PC-01"),
        ("199001202015031002", "Budi Šantoso", "PELAKSANA", "PC-02"),
    ]


def test_good_xlsx_with_nip_as_text():
    data = _xlsx(
        [
            ["NIP", "Nama", "Jabatan", "Unit"],
            ["198703152010012001", "Siti", "Widyaprada Ahli Pertama", "Tim Mutu I"],
        ]
    )
    rows, problems = parse_roster(read_table("r.xlsx", data), POSITIONS)
    assert problems == [] and rows[0].position_code == "JF-WP-AP" and rows[0].seat is None


@pytest.mark.parametrize(
    ("line", "column", "text"),
    [
        ("19870315201001200X;Siti;JF-WP-AP;Unit;PC-09", "NIP", "18 angka"),
        ("197001012000011001;;JF-WP-AP;Unit;PC-09", "Nama", "nama kosong"),
        ("197001012000011001;Ani;Kepala Dinas;Unit;PC-09", "Jabatan", "tidak ada di standar"),
        ("197001012000011001;Ani;PELAKSANA;;PC-09", "Unit", "unit kerja kosong"),
        ("198703152010012001;Ani;PELAKSANA;Unit;PC-09", "NIP", "ganda (sudah ada di baris 2)"),
        ("197001012000011001;Ani;PELAKSANA;Unit;PC-01", "Kursi", "kursi PC-01 ganda"),
    ],
)
def test_bad_rows_are_named(line, column, text):
    csv_text = "NIP;Nama;Jabatan;Unit;Kursi\n198703152010012001;Siti;JF-WP-AP;U;PC-01\n" + line
    rows, problems = parse_roster(read_table("r.csv", csv_text.encode()), POSITIONS)
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.row == 3 and problem.column == column and text in problem.message
    assert str(problem).startswith(f"baris 3, kolom {column}: ")


def test_bad_xlsx_row_is_named():
    data = _xlsx(
        [
            ["NIP", "Nama", "Jabatan", "Unit"],
            ["198703152010012001", "Siti", "JF-WP-AP", "U"],
            ["198703152010012001", "Dua", "JF-WP-AP", "U"],
        ]
    )
    _rows, problems = parse_roster(read_table("r.xlsx", data), POSITIONS)
    assert [(p.row, p.column) for p in problems] == [(3, "NIP")]


def test_missing_columns_and_empty_file():
    _rows, problems = parse_roster(read_table("r.csv", b"NIP,Nama\n1,2\n"), POSITIONS)
    assert {p.column for p in problems} == {"position", "unit"}
    assert parse_roster(read_table("r.csv", b""), POSITIONS)[1][0].message.startswith("baris judul")


def test_nip_already_on_the_session():
    _rows, problems = parse_roster(
        read_table("r.csv", GOOD_CSV.encode()), POSITIONS, existing_nips={"198703152010012001"}
    )
    assert "peserta sesi ini" in problems[0].message


def test_unreadable_files():
    with pytest.raises(ValueError, match="UTF-8"):
        read_table("r.csv", "NIP;Nama\n1;Ä".encode("latin-1"))
    with pytest.raises(ValueError, match="XLSX"):
        read_table("r.xlsx", b"not a zip")
    with pytest.raises(ValueError, match=".csv atau .xlsx"):
        read_table("r.pdf", b"%PDF")
