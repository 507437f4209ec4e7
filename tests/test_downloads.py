"""Downloads for Excel in either language (docs/downloads.md), and numbers on pages.

The CSV is read back with the dialect Excel would use: ``;`` and decimal commas for the
Indonesian interface, ``,`` and decimal points for the English one. The XLSX is read back with
openpyxl: title, header, number cells and their formats, widths, frozen panes and the filter.
"""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from cbt_server.assessment import downloads
from tests.builders import RIGHT, Participant, finish

# Participant 1: everything right (total 22 of 24); participant 2: one Likert answer (1 of 24,
# 4.1667 %); participant 3 is absent.
BEST = {**RIGHT, "U-L1": "4", "U-L2": "2", "U-SD": "5"}
WEAK = {"U-SGL": "A", "U-L1": "1"}
BEST_NAME = "Ni Kadek Ayu Wulandari, S.Pd. — Ñusantara"


def _csv(client: FlaskClient, path: str, delimiter: str) -> tuple[list[str], dict[str, dict]]:
    response = client.get(path, buffered=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel shows the names right
    text = raw.decode("utf-8-sig")
    assert not text.startswith("sep=")
    table = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    assert len(table[0]) > 10, "the header did not split on the expected separator"
    header = table[0]
    return header, {row[1]: dict(zip(header, row, strict=True)) for row in table[1:]}


@pytest.fixture
def taken(app: Flask, lab):  # type: ignore[no-untyped-def]
    finish(app, lab, 0, BEST)
    finish(app, lab, 1, WEAK)
    return lab


def test_score_sheet_csv_follows_the_interface_language(app: Flask, taken, assessor):  # type: ignore[no-untyped-def]
    path = f"/assessor/sessions/{taken.id}/scores.csv"

    # Indonesian (the default): ";" between fields, "," as the decimal mark.
    header, rows = _csv(assessor, path, ";")
    weak = rows["Peserta 2"]
    assert weak["Total %"] == "4,1667" and weak["Total"] == "1"
    assert rows[BEST_NAME]["Total"] == "22" and rows[BEST_NAME]["Total maks"] == "24"
    assert rows[BEST_NAME]["INT.SDUJ tanda"] == "VALIDITAS"
    assert rows["Peserta 3"]["Total"] == ""
    assert all("." not in cell for row in rows.values() for cell in row.values() if _numeric(cell))

    # English interface: "," and ".".
    assessor.set_cookie("cbt_lang", "en")
    _header, rows = _csv(assessor, path, ",")
    assert rows["Peserta 2"]["Total %"] == "4.1667"

    # Either style on request, whatever the language.
    _header, rows = _csv(assessor, path + "?csv=id", ";")
    assert rows["Peserta 2"]["Total %"] == "4,1667"
    assessor.set_cookie("cbt_lang", "id")
    _header, rows = _csv(assessor, "/assessor/batteries/BAT-UJI/scores.csv?csv=en", ",")
    assert rows["Peserta 2"]["Total %"] == "4.1667"

    page = assessor.get(f"/assessor/sessions/{taken.id}/scores").get_data(as_text=True)
    assert "scores.csv?csv=id" in page and "scores.csv?csv=en" in page


def test_score_sheet_gives_each_level_its_band_and_says_when_a_score_measures_nothing(
    app: Flask, taken, assessor
) -> None:  # type: ignore[no-untyped-def]
    """3 of 3 right on T.UJ.01 is level 5 with the band 4–5 (uncertain over 3 items); the weak
    participant answered 1 of T.UJ.01's 3 items (wrong): no level, "hampir kosong"; blank T.UJ.02
    items are "kosong"; the whole weak test is at chance too."""
    _header, rows = _csv(assessor, f"/assessor/sessions/{taken.id}/scores.csv", ";")
    best, weak = rows[BEST_NAME], rows["Peserta 2"]
    assert (best["T.UJ.01 level"], best["T.UJ.01 rentang"], best["T.UJ.01 validitas"]) == (
        "5",
        "4–5",
        "",
    )
    assert (weak["T.UJ.01 level"], weak["T.UJ.01 validitas"]) == ("", "hampir kosong")
    assert (weak["T.UJ.02 level"], weak["T.UJ.02 validitas"]) == ("", "kosong")
    assert best["Total validitas"] == "" and weak["Total validitas"] == "hampir kosong"
    page = assessor.get(f"/assessor/sessions/{taken.id}/scores").get_data(as_text=True)
    assert 'data-testid="sheet-legend"' in page and "sementara" in page


def _numeric(cell: str) -> bool:
    return bool(cell) and cell.replace(",", "").replace(".", "").lstrip("-").isdigit()


def test_item_analysis_csv_follows_the_interface_language(app: Flask, taken, assessor):  # type: ignore[no-untyped-def]
    response = assessor.get("/assessor/batteries/BAT-UJI/analysis.csv", buffered=True)
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))
    by_item = {row["Kode butir"].split("/")[1]: row for row in rows}
    assert by_item["U-SGL"]["p"] == "0,5"  # one of two right
    assessor.set_cookie("cbt_lang", "en")
    response = assessor.get("/assessor/batteries/BAT-UJI/analysis.csv", buffered=True)
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert {row["Kode butir"].split("/")[1]: row for row in rows}["U-SGL"]["p"] == "0.5"


def test_item_analysis_tables_come_as_xlsx_too(app: Flask, taken, assessor):  # type: ignore[no-untyped-def]
    response = assessor.get(
        f"/assessor/batteries/BAT-UJI/analysis.xlsx?session={taken.id}", buffered=True
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert sheet["A1"].value == "Analisis butir: Baterai Uji (BAT-UJI) — sesi S-01"
    assert sheet["A2"].value.startswith("2 percobaan selesai")
    header = [cell.value for cell in sheet[3]]
    assert header[:2] == ["Kode butir", "Jenis"] and sheet.freeze_panes == "B4"
    assert sheet.auto_filter.ref.startswith("A3:")
    rows = {row[0].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=4)}
    p = rows["UJI/U-SGL"]["p"]
    assert p.value == 0.5 and p.number_format == "0.000"
    assert rows["UJI/U-SGL"]["n"].value == 2 and rows["UJI/U-SGL"]["n"].number_format == "0"
    for path in ("analysis-options", "reliability", "standard-scores"):
        other = assessor.get(f"/assessor/batteries/BAT-UJI/{path}.xlsx", buffered=True)
        assert other.status_code == 200 and load_workbook(io.BytesIO(other.get_data())).active
    page = assessor.get("/assessor/batteries/BAT-UJI/analysis").get_data(as_text=True)
    assert 'data-testid="download-items-xlsx"' in page


def test_score_sheet_xlsx_is_titled_formatted_and_filtered(app: Flask, taken, assessor):  # type: ignore[no-untyped-def]
    response = assessor.get(f"/assessor/sessions/{taken.id}/scores.xlsx", buffered=True)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active

    assert sheet["A1"].value == "Lembar skor sesi S-01 — Sesi S-01" and sheet["A1"].font.bold
    subtitle = sheet["A2"].value
    assert "BAT-UJI" in subtitle and "Baterai Uji" in subtitle and "Lab 1" in subtitle
    assert "Tanggal" in subtitle  # the session's date
    header = [cell.value for cell in sheet[3]]
    assert header[:6] == ["NIP", "Nama", "Jabatan", "Unit Kerja", "Sesi", "Status"]
    # response quality last (docs/assessor.md): BAT-UJI has integrity scales, so all six
    assert header[-6:] == [
        "Tebakan cepat",
        "RTE",
        "RTE tanda",
        "Respons asal",
        "Skala validitas",
        "Kolusi",
    ]
    assert sheet.freeze_panes == "C4"  # title, header, NIP and name stay in view
    last = get_column_letter(len(header))
    assert sheet.auto_filter.ref == f"A3:{last}6"  # the header and the three participants

    rows = {
        row[1].value: {h: c for h, c in zip(header, row, strict=True)}
        for row in sheet.iter_rows(min_row=4)
    }
    weak, best = rows["Peserta 2"], rows[BEST_NAME]
    assert weak["Total"].value == 1 and weak["Total"].number_format == "0.00"
    assert weak["Total %"].value == pytest.approx(1 / 24, abs=1e-5)  # a real percentage
    assert weak["Total %"].number_format == "0.00%"
    assert best["T.UJ.01 level"].value == 5 and best["T.UJ.01 level"].number_format == "0"
    assert best["Bagian S1"].data_type == "n" and best["Bagian S1"].value == 3
    assert best["NIP"].data_type == "s"  # 18 digits stay text
    assert rows["Peserta 3"]["Total"].value is None
    # answered with the server's clock standing: no answer has a time, nothing to judge
    assert best["Tebakan cepat"].value is None and best["RTE"].value is None
    # two graded attempts are no norm: the battery's 80 % is the provisional cut
    assert best["Skala validitas"].value == (
        "TIDAK VALID: INT.SDUJ 100,0 % ≥ batas sementara 80,0 % (norma 2 < 30 orang)"
    )
    assert weak["Kolusi"].value is None and weak["Respons asal"].value is None

    width = {
        h: sheet.column_dimensions[get_column_letter(i + 1)].width for i, h in enumerate(header)
    }
    assert width["Nama"] >= len(BEST_NAME)  # the longest name fits
    assert width["NIP"] >= 18
    assert 8 <= width["Total"] <= 14 and width["Nama"] <= 50


def test_battery_xlsx_says_which_sessions(app: Flask, taken, assessor):  # type: ignore[no-untyped-def]
    response = assessor.get("/assessor/batteries/BAT-UJI/scores.xlsx", buffered=True)
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert sheet["A1"].value.startswith("Lembar skor baterai BAT-UJI — Baterai Uji")
    assert sheet["A2"].value.startswith("1 sesi, ")


def test_csv_style_and_stream_are_plain_functions():
    styles, style = downloads.CSV_STYLES, downloads.csv_style
    assert style(None, "id") == styles["id"] and style(None, "en") == styles["en"]
    assert style("en", "id") == styles["en"] and style("xx", "fr") == styles["id"]
    rows = [[2.3333333, "x;y"], [None, 7]]
    body = b"".join(downloads.csv_stream(["a", "b"], rows, styles["id"]))
    assert body.decode("utf-8-sig") == 'a;b\r\n2,3333;"x;y"\r\n;7\r\n'


def test_empty_xlsx_still_has_its_title_and_header():
    with downloads.xlsx_file("Judul", ["A", "B"], ["text", "number"], [], subtitle="Sub") as data:
        book = load_workbook(data)
    sheet = book.active
    assert [sheet["A1"].value, sheet["A2"].value, sheet["A3"].value] == ["Judul", "Sub", "A"]


def test_scores_on_pages_use_the_languages_decimal_mark(app: Flask, taken, assessor):  # type: ignore[no-untyped-def]
    page = assessor.get(f"/assessor/sessions/{taken.id}/scores").get_data(as_text=True)
    assert ">4,17<" in page and ">4.17<" not in page  # Total % of participant 2
    assessor.set_cookie("cbt_lang", "en")
    page = assessor.get(f"/assessor/sessions/{taken.id}/scores").get_data(as_text=True)
    assert ">4.17<" in page


def test_finish_page_score_in_indonesian_decimals(app: Flask, lab):  # type: ignore[no-untyped-def]
    finish(app, lab, 0, BEST)
    person = Participant(app, *lab.participants[0])
    assert person.login().status_code == 302  # a browser of its own
    page = person.client.get("/exam/finish").get_data(as_text=True)
    assert "22,00" in page and "24,00" in page, page
    person.client.set_cookie("cbt_lang", "en")
    page = person.client.get("/exam/finish").get_data(as_text=True)
    assert "22.00" in page and "24.00" in page
