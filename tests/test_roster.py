"""Roster files: CSV and XLSX, every bad row named, nothing accepted from a bad file."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from cbt_server.sessions.roster import parse_roster
from cbt_server.tabular import TableError, cell_text, read_table

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
    assert {p.column for p in problems} == {"Jabatan", "Unit"}
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


@pytest.mark.parametrize(
    ("data", "row", "column", "byte"),
    [
        ("NIP;Nama\n1;Ä".encode("latin-1"), 2, "Nama", 11),
        ("\ufeffNIP,Nama\n".encode() + "Ä,x".encode("latin-1"), 2, "NIP", 12),
        ('NIP,"Nama, lengkap"\n1,"a\nb"\n2,"Ä"'.encode("cp1252"), 3, "Nama, lengkap", 31),
        ("NIP;Näma".encode("cp1252"), 1, None, 5),  # in the header: no column to name
    ],
)
def test_a_non_utf8_csv_names_the_row_and_column_of_the_first_bad_byte(data, row, column, byte):
    with pytest.raises(TableError) as caught:
        read_table("r.csv", data)
    problem = caught.value.problem()
    assert (problem.row, problem.column) == (row, column)
    assert f"bukan UTF-8 (byte {byte}, " in problem.message and "CSV UTF-8" in problem.message


def test_a_nip_typed_as_a_number_in_excel_is_refused_not_rounded():
    # Excel (and openpyxl) keep 15 significant digits of a number: the NIP's tail is gone.
    data = _xlsx(
        [["NIP", "Nama", "Jabatan", "Unit"], [198703152010012001, "Siti", "JF-WP-AP", "U"]]
    )
    rows, problems = parse_roster(read_table("r.xlsx", data), POSITIONS)
    assert rows == [] and [(p.row, p.column) for p in problems] == [(2, "NIP")]
    assert "Teks" in problems[0].message
    assert cell_text(12345.0) == "12345" and cell_text(1.5) == "1.5"


def test_position_codes_match_in_any_case():
    text = "NIP,Nama,Jabatan,Unit\n198703152010012001,Siti,jf-wp-ap,U\n"
    rows, problems = parse_roster(read_table("r.csv", text.encode()), POSITIONS)
    assert problems == [] and rows[0].position_code == "JF-WP-AP"
