"""Spreadsheets in and out (docs/downloads.md, "Uploads" and "Formula cells").

Uploads (roster, outside data) are read within fixed limits (``cbt_server.tabular``): a hostile
file (a claimed ``<dimension>`` of a million rows, a zip bomb, too many rows, columns or
characters, not a spreadsheet at all) is refused with a message saying what and where, and
nothing is imported. Downloads (every CSV and XLSX) never carry a live formula: text that a
spreadsheet would run gets a leading apostrophe and is written as a string; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select

from cbt_server import tabular
from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from cbt_server.models import AuditEntry, CompetencyRating, Enrolment, User, db
from cbt_server.tabular import TableError, read_table
from tests.builders import RIGHT, finish, upload, xlsx_bytes
from tests.helpers import csrf_token, enrolled_count, login, problems_table

GOOD_NIP = "198703152010012001"
ROSTER = [["NIP", "Nama", "Jabatan", "Unit Kerja"], [GOOD_NIP, "Siti Nurhaliza", "JF-UJ", "Mutu"]]
FAR_ROW = '<row r="1048576"><c r="AMJ1048576" t="inlineStr"><is><t>x</t></is></c></row>'


# ---------------------------------------------------------------- hostile files, built here


def _rewrite_sheet(data: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    """The workbook ``data`` with its first sheet's XML passed through ``change``."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = change(body.decode()).encode()
            target.writestr(info.filename, body)
    return out.getvalue()


def _claimed_dimension(xml: str) -> str:
    """The sheet claims A1:AMJ1048576 (1024 columns × 1,048,576 rows)."""
    return re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:AMJ1048576"/>', xml)


def dimension_bomb() -> bytes:
    """A few KB: a good roster that claims the whole sheet and has one cell at AMJ1048576."""
    return _rewrite_sheet(
        xlsx_bytes(ROSTER),
        lambda xml: _claimed_dimension(xml).replace("</sheetData>", FAR_ROW + "</sheetData>"),
    )


def zip_bomb() -> bytes:
    """A sheet that inflates beyond the limit: whitespace compresses about 1000 to 1."""
    padding = " " * (tabular.MAX_UNCOMPRESSED_BYTES + 1)
    return _rewrite_sheet(
        xlsx_bytes(ROSTER), lambda xml: xml.replace("</sheetData>", padding + "</sheetData>")
    )


def many_members() -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx_bytes(ROSTER))) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
        for n in range(tabular.MAX_ZIP_MEMBERS + 1):
            target.writestr(f"xl/media/extra{n}.xml", "<x/>")
    return out.getvalue()


def csv_of(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    return out.getvalue().encode()


# ---------------------------------------------------------------- reading: the pure reader


def _refusal(filename: str, data: bytes) -> TableError:
    started = time.perf_counter()
    with pytest.raises(TableError) as refused:
        read_table(filename, data)
    print(f"{filename}: refused in {time.perf_counter() - started:.3f} s: {refused.value}")
    return refused.value


def test_a_claimed_dimension_is_ignored():
    """A sheet that only claims A1:AMJ1048576 is read as the rows it has."""
    data = _rewrite_sheet(xlsx_bytes(ROSTER), _claimed_dimension)
    assert read_table("peserta.xlsx", data) == ROSTER


def test_a_cell_far_out_is_refused_with_its_place():
    error = _refusal("peserta.xlsx", dimension_bomb())
    assert error.row == 1048576 and error.column == "AMJ"
    assert "kolom" in str(error) or "baris" in str(error)


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    data = zip_bomb()
    assert len(data) < 200_000  # small on the wire
    error = _refusal("peserta.xlsx", data)
    assert "xl/worksheets/sheet1.xml" in str(error) and "MB" in str(error)


def test_empty_filler_cells_are_refused_when_they_exceed_the_sheet_budget():
    filler = '<row r="3">' + "<c/>" * (tabular.MAX_SHEET_ELEMENTS + 1) + "</row>"
    data = _rewrite_sheet(
        xlsx_bytes(ROSTER), lambda xml: xml.replace("</sheetData>", filler + "</sheetData>")
    )
    error = _refusal("peserta.xlsx", data)
    assert error.row == 3 and "lembar kerja terlalu besar" in str(error)


def test_too_many_zip_members_and_files_that_are_no_spreadsheet():
    assert "isi" in str(_refusal("peserta.xlsx", many_members()))
    assert "bukan arsip zip" in str(_refusal("peserta.xlsx", b"NIP;Nama\n1;2\n"))
    no_book = io.BytesIO()
    with zipfile.ZipFile(no_book, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "XLSX" in str(_refusal("peserta.xlsx", no_book.getvalue()))
    assert "format berkas" in str(_refusal("peserta.pdf", b"%PDF-1.7"))


def test_limits_on_rows_columns_cells_and_bytes_in_csv_and_xlsx():
    header = ["NIP", "Nama", "Jabatan", "Unit Kerja"]
    rows = [header] + [[GOOD_NIP, "A", "JF-UJ", "U"]] * (tabular.MAX_ROWS + 1)
    for name, data in (("a.csv", csv_of(rows)), ("a.xlsx", xlsx_bytes(rows))):
        error = _refusal(name, data)
        assert error.row == tabular.MAX_ROWS + 2 and f"{tabular.MAX_ROWS} baris" in str(error)
    # Blank rows below the data do not count.
    assert len(read_table("a.csv", csv_of(rows[:10] + [[""]] * (tabular.MAX_ROWS + 5)))) == 10

    wide = [header + ["x"] * (tabular.MAX_COLUMNS - 3)]
    for name, data in (("a.csv", csv_of(wide)), ("a.xlsx", xlsx_bytes(wide))):
        error = _refusal(name, data)
        assert error.row == 1 and "kolom" in str(error)
        assert error.column == get_column_letter(tabular.MAX_COLUMNS + 1)

    long = [header, [GOOD_NIP, "A" * (tabular.MAX_CELL_CHARS + 1), "JF-UJ", "U"]]
    for name, data in (("a.csv", csv_of(long)), ("a.xlsx", xlsx_bytes(long))):
        error = _refusal(name, data)
        assert (error.row, error.column) == (2, "B") and "karakter" in str(error)

    big = b"NIP;Nama\n" + b"1;" + b"x" * tabular.MAX_FILE_BYTES + b"\n"
    assert "MB" in str(_refusal("a.csv", big))


# ---------------------------------------------------------------- reading: over HTTP


def _roster_upload(client: FlaskClient, session_id: int, filename: str, data: bytes):  # type: ignore[no-untyped-def]
    page = client.get(f"/proctor/sessions/{session_id}").get_data(as_text=True)
    started = time.perf_counter()
    response = client.post(
        f"/proctor/sessions/{session_id}/roster",
        data={"csrf_token": csrf_token(page), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    print(f"{filename}: answered {response.status_code} in {time.perf_counter() - started:.3f} s")
    return response


@pytest.fixture
def proctor(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


def test_hostile_roster_files_are_refused_and_change_nothing(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    before = enrolled_count(app, lab.id)
    cases = {
        "dimensi.xlsx": (dimension_bomb(), ("1048576", "AMJ")),
        "bom.xlsx": (zip_bomb(), ("—", "—")),
        "bukan.xlsx": (b"\x89PNG\r\n\x1a\n not a workbook", ("—", "—")),
    }
    for filename, (data, (row, column)) in cases.items():
        response = _roster_upload(proctor, lab.id, filename, data)
        assert response.status_code == 422, filename
        page = response.get_data(as_text=True)
        assert "tidak ada yang diimpor" in page
        [(shown_row, shown_column, message)] = problems_table(page, "roster-problems")
        assert (shown_row, shown_column) == (row, column), message
        assert enrolled_count(app, lab.id) == before
    # The same roster without the far cell is taken as it is: the claimed size is ignored.
    data = _rewrite_sheet(xlsx_bytes(ROSTER), _claimed_dimension)
    assert _roster_upload(proctor, lab.id, "peserta.xlsx", data).status_code == 302
    assert enrolled_count(app, lab.id) == before + 1


def test_hostile_outside_data_files_are_refused_and_change_nothing(app: Flask, lab, assessor):  # type: ignore[no-untyped-def]
    ratings = [["NIP", "Kompetensi", "Level"]]
    huge = _rewrite_sheet(
        xlsx_bytes(ratings),
        lambda xml: _claimed_dimension(xml).replace("</sheetData>", FAR_ROW + "</sheetData>"),
    )
    for kind in ("self", "supervisor", "performance"):
        response = upload(assessor, kind, "nilai.xlsx", huge)
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert "tidak ada yang diimpor" in page
        [(row, column, _message)] = problems_table(page, "import-problems")
        assert (row, column) == ("1048576", "AMJ")
    response = upload(assessor, "self", "nilai.xlsx", zip_bomb())
    assert response.status_code == 422 and "MB" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CompetencyRating)) == 0


# ---------------------------------------------------------------- writing: formula cells

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+2", "@SUM(A1)", "-2+3"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def test_inert_text_unit():
    for text in [*HOSTILE, "\tx", "\rx"]:
        assert tabular.inert_text(text) == "'" + text
    for text in ["Siti", "", "1990", "'=already", " =spaced", "a=b", "—"]:
        assert tabular.inert_text(text) == text


@pytest.fixture
def hostile(app: Flask, lab):  # type: ignore[no-untyped-def]
    """The lab's participants renamed to formulas, a fourth one added; two finish the test."""
    with app.app_context(), write_transaction():
        people = db.session.scalars(
            select(User).where(User.role == "participant").order_by(User.id)
        ).all()
        for user, name in zip(people, HOSTILE, strict=False):
            user.full_name = name
        fourth = create_user("s-01-p04", "sandi-04", "participant", HOSTILE[3], nip="1" * 18)
        fourth.position_code, fourth.unit = "JF-UJ", "=1+1"
        db.session.flush()
        db.session.add(Enrolment(session_id=lab.id, user_id=fourth.id, seat="PC-04"))
    finish(app, lab, 0, {**RIGHT, "U-L1": "4"})
    finish(app, lab, 1, {"U-SGL": "A"})
    return lab


def _check_csv(raw: bytes, delimiter: str, where: str) -> list[list[str]]:
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=delimiter))
    for row in table:
        for cell in row:
            if cell.startswith(FORMULA_START):
                number = cell.replace(",", ".") if delimiter == ";" else cell
                assert re.fullmatch(r"-\d+(\.\d+)?", number), f"{where}: live cell {cell!r}"
    return table


def _check_xlsx(raw: bytes, where: str) -> list[list]:
    sheet = load_workbook(io.BytesIO(raw)).active
    cells = [list(row) for row in sheet.iter_rows()]
    for row in cells:
        for cell in row:
            assert cell.data_type != "f", f"{where}: formula in {cell.coordinate}"
            if isinstance(cell.value, str):
                assert not cell.value.startswith(FORMULA_START), f"{where}: {cell.value!r}"
    return cells


def test_every_download_neutralises_formulas_and_keeps_numbers(app: Flask, hostile, assessor):  # type: ignore[no-untyped-def]
    session = hostile.id
    proctor = app.test_client()
    assert login(proctor, *hostile.proctors[0]).status_code == 302
    csvs = {
        f"/assessor/sessions/{session}/scores.csv?csv=id": (assessor, ";"),
        f"/assessor/sessions/{session}/scores.csv?csv=en": (assessor, ","),
        "/assessor/batteries/BAT-UJI/scores.csv": (assessor, ";"),
        f"/proctor/sessions/{session}/attendance.csv": (proctor, ","),
        f"/proctor/sessions/{session}/report.csv": (proctor, ","),
    }
    for kind in ("analysis", "analysis-options", "reliability", "standard-scores"):
        csvs[f"/assessor/batteries/BAT-UJI/{kind}.csv"] = (assessor, ";")
    names_seen: dict[str, set[str]] = {}
    for path, (client, delimiter) in csvs.items():
        response = client.get(path, buffered=True)
        assert response.status_code == 200, path
        table = _check_csv(response.get_data(), delimiter, path)
        names_seen[path] = {cell for row in table for cell in row}
    for path in ("scores.csv?csv=id", "attendance.csv", "standard-scores.csv"):
        seen = next(v for k, v in names_seen.items() if k.endswith(path))
        for name in HOSTILE:
            if path == "standard-scores.csv" and name in HOSTILE[2:]:
                continue  # only people who finished are in the standard scores
            assert "'" + name in seen, (path, name)
    assert "'=1+1" in names_seen[f"/proctor/sessions/{session}/attendance.csv"]

    xlsxs = [f"/assessor/sessions/{session}/scores.xlsx", "/assessor/batteries/BAT-UJI/scores.xlsx"]
    xlsxs += [
        f"/assessor/batteries/BAT-UJI/{kind}.xlsx"
        for kind in ("analysis", "analysis-options", "reliability", "standard-scores")
    ]
    for path in xlsxs:
        response = assessor.get(path, buffered=True)
        assert response.status_code == 200, path
        _check_xlsx(response.get_data(), path)

    # The score sheet: names are text cells with the apostrophe, scores are numbers.
    response = assessor.get(f"/assessor/sessions/{session}/scores.xlsx", buffered=True)
    cells = _check_xlsx(response.get_data(), "scores.xlsx")
    header = [c.value for c in cells[2]]
    assert header[-3:] == ["Respons asal", "Skala validitas", "Kolusi"]  # words, made inert too
    rows = {row[1].value: dict(zip(header, row, strict=True)) for row in cells[3:]}
    for name in HOSTILE:
        cell = rows["'" + name]["Nama"]
        assert cell.data_type == "s" and cell.value == "'" + name
    best = rows["'" + HOSTILE[0]]
    assert best["Total"].data_type == "n" and best["Total"].value > 0
    assert rows["'" + HOSTILE[3]]["Unit Kerja"].value == "'=1+1"

    # Standard scores: a negative z stays a negative number, in the XLSX and the CSV.
    response = assessor.get("/assessor/batteries/BAT-UJI/standard-scores.xlsx", buffered=True)
    cells = _check_xlsx(response.get_data(), "standard-scores.xlsx")
    header = [c.value for c in cells[2]]
    weak = dict(zip(header, cells[3:][[r[1].value for r in cells[3:]].index("'+1+2")], strict=True))
    assert weak["Total z"].data_type == "n" and weak["Total z"].value < 0
    raw = assessor.get("/assessor/batteries/BAT-UJI/standard-scores.csv?csv=en", buffered=True)
    table = list(csv.DictReader(io.StringIO(raw.get_data().decode("utf-8-sig"))))
    z = next(r for r in table if r["Nama"] == "'+1+2")["Total z"]
    assert z.startswith("-") and float(z) < 0


def test_no_writer_bypasses_the_shared_cell_rule():
    """CSV is written only through ``tabular.CsvWriter``, XLSX only in ``downloads``."""
    package = Path(__file__).resolve().parent.parent / "cbt_server"
    for source in package.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        name = source.relative_to(package).as_posix()
        if name != "tabular.py":
            assert "csv.writer(" not in text and "DictWriter(" not in text, name
        if name != "assessment/downloads.py":
            assert "Workbook(" not in text, name


def test_audit_rows_unchanged_by_refusals(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    """A refused roster writes no import audit row."""
    _roster_upload(proctor, lab.id, "dimensi.xlsx", dimension_bomb())
    with app.app_context():
        imports = db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "session.roster_import")
        )
    assert imports == 0
