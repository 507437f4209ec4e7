"""Assessor data: score sheets parsed back, outside-data imports, key fixes, regrade."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select

from cbt_server.models import (
    AttemptRegrade,
    AuditEntry,
    CompetencyRating,
    KeyOverride,
    PerformanceRating,
    PerformanceTarget,
    User,
    db,
)
from tests.builders import (
    FIXTURE_BANKS,
    RIGHT,
    attempt_of,
    csv_bytes,
    finish,
    keyed_positions,
    upload,
    xlsx_bytes,
)
from tests.helpers import audit_count, csrf_token


def test_score_sheet_csv_and_xlsx_parse_back(app: Flask, lab, assessor):  # type: ignore[no-untyped-def]
    finish(app, lab, 0, {**RIGHT, "U-L1": "4", "U-L2": "2", "U-SD": "5"})
    finish(app, lab, 1, {"U-SGL": "A", "U-L1": "1"})
    page = assessor.get(f"/assessor/sessions/{lab.id}/scores")
    assert page.status_code == 200 and "Ñusantara" in page.get_data(as_text=True)

    response = assessor.get(f"/assessor/sessions/{lab.id}/scores.csv", buffered=True)
    assert response.status_code == 200
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the names right
    # Indonesian interface: ";" between fields, "," as the decimal mark (tests/test_downloads.py)
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    header, rows = table[0], {r[1]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    assert header[:6] == ["NIP", "Nama", "Jabatan", "Unit Kerja", "Sesi", "Status"]
    for column in ("Bagian S1", "Bagian S2", "T.UJ.01 skor", "T.UJ.01 level", "INT.SDUJ tanda"):
        assert column in header
    best = rows["Ni Kadek Ayu Wulandari, S.Pd. — Ñusantara"]
    assert best["Jabatan"] == "Penguji Ahli" and best["Status"] == "Selesai"
    assert float(best["T.UJ.01 skor"]) == 3.0 and int(best["T.UJ.01 level"]) == 5
    assert float(best["Bagian S1"]) == 3.0 and best["INT.SDUJ tanda"] == "VALIDITAS"
    assert float(best["Total"]) == 3 + 2 + 4 + 4 + 4 + 5 and float(best["Total maks"]) == 24
    assert rows["Peserta 2"]["T.UJ.01 skor"] == "0"  # one wrong answer
    absent = rows["Peserta 3"]
    assert absent["Status"] == "Tidak hadir" and absent["Total"] == ""

    response = assessor.get(f"/assessor/sessions/{lab.id}/scores.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.get_data()))
    sheet = book.active
    assert sheet.freeze_panes == "C4"  # below the title, subtitle and header; NIP and name
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[2]) == header
    assert sheet.cell(row=3, column=1).font.bold
    by_name = {row[1]: dict(zip(header, row, strict=True)) for row in values[3:]}
    xl = by_name["Ni Kadek Ayu Wulandari, S.Pd. — Ñusantara"]
    assert isinstance(xl["Total"], int | float) and xl["Total"] == 22  # a number, not text
    assert isinstance(xl["T.UJ.01 level"], int) and xl["T.UJ.01 level"] == 5
    assert by_name["Peserta 3"]["Total"] is None
    assert (
        audit_count(app, "download.scores.csv") == 1
        and audit_count(app, "download.scores.xlsx") == 1
    )

    battery = assessor.get("/assessor/batteries/BAT-UJI/scores.csv", buffered=True)
    assert battery.status_code == 200 and "Ñusantara" in battery.get_data(as_text=True)
    assert assessor.get("/assessor/batteries/NOPE/scores.csv").status_code == 404


def _nips(app: Flask) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(select(User.nip).where(User.role == "participant").order_by(User.id))
        )


def _count(app: Flask, model) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_rating_import_stores_good_files_and_rejects_bad_rows(app: Flask, lab, assessor):  # type: ignore[no-untyped-def]
    nip1, nip2, _ = _nips(app)
    good = csv_bytes(
        [
            ["NIP", "Kompetensi", "Level", "Periode"],
            [nip1, "T.UJ.01", "3", "2026"],
            [nip1, "T.UJ.02", "2,5", "2026"],
            [nip2, "t.uj.01", "4", "2026"],
        ]
    )
    response = upload(assessor, "self", "diri.csv", good)
    assert response.status_code == 302
    assert _count(app, CompetencyRating) == 3
    bad = csv_bytes(
        [
            ["NIP", "Kompetensi", "Level"],
            [nip1, "T.UJ.01", "4"],
            ["199999999999999999", "T.UJ.01", "3"],
            [nip2, "X.NOPE", "3"],
            [nip2, "T.UJ.02", "7"],
            [nip1, "T.UJ.01", "2"],
        ]
    )
    response = upload(assessor, "supervisor", "atasan.csv", bad)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "baris 3" not in text  # problems are shown in a table: row, column, message
    for row, column, message in [
        ("3", "NIP", "tidak terdaftar"),
        ("4", "Kompetensi", "X.NOPE"),
        ("5", "Level", "1–5"),
        ("6", "Kompetensi", "ganda"),
    ]:
        assert f"<td>{row}</td><td>{column}</td>" in text and message in text
    assert _count(app, CompetencyRating) == 3  # nothing of the bad file
    xlsx = xlsx_bytes([["NIP", "Kompetensi", "Level"], [nip1, "T.UJ.01", 4]])
    assert upload(assessor, "supervisor", "atasan.xlsx", xlsx).status_code == 302
    assert _count(app, CompetencyRating) == 4
    assert audit_count(app, "import.ratings.self") == 1
    assert audit_count(app, "import.ratings.supervisor") == 1


def test_performance_import_good_and_bad(app: Flask, lab, assessor):  # type: ignore[no-untyped-def]
    nip1, nip2, _ = _nips(app)
    good = xlsx_bytes(
        [
            ["NIP", "Periode", "Indikator", "Target", "Realisasi", "Satuan", "Predikat"],
            [nip1, "2026", "Laporan supervisi", 12, 10, "laporan", "Baik"],
            [nip1, "2026", "Sekolah didampingi", 20, 24, "sekolah", "Baik"],
            [nip2, "2026", "", None, None, None, "sangat baik"],
        ]
    )
    assert upload(assessor, "performance", "skp.xlsx", good).status_code == 302
    assert _count(app, PerformanceTarget) == 2 and _count(app, PerformanceRating) == 2
    bad = csv_bytes(
        [
            ["NIP", "Periode", "Indikator", "Target", "Realisasi", "Predikat"],
            [nip1, "2027", "Laporan", "0", "3", "Baik"],
            [nip1, "2027", "Kegiatan", "5", "-1", "Baik"],
            [nip2, "2027", "Kegiatan", "5", "5", "Istimewa"],
            [nip2, "", "Kegiatan", "5", "5", ""],
        ]
    )
    response = upload(assessor, "performance", "skp.csv", bad)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    for row, column in [("2", "Target"), ("3", "Realisasi"), ("4", "Predikat"), ("5", "Periode")]:
        assert f"<td>{row}</td><td>{column}</td>" in text
    assert _count(app, PerformanceTarget) == 2 and _count(app, PerformanceRating) == 2
    not_utf8 = b"NIP,Periode,Indikator,Target,Realisasi\n" + "Kegiatan é".encode("latin-1")
    response = upload(assessor, "performance", "skp.csv", not_utf8)
    assert response.status_code == 422 and "bukan UTF-8" in response.get_data(as_text=True)


def _post_form(client, page: str, action: str, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data})


def test_key_override_and_regrade_keep_old_and_new_scores(app: Flask, lab, assessor):  # type: ignore[no-untyped-def]
    first = finish(app, lab, 0, {"U-SGL": "C"})  # "wrong" under the stored key B
    second = finish(app, lab, 1, {"U-SGL": "B"})
    with app.app_context():
        sgl = db.session.scalar(select(KeyOverride.item_id).where(KeyOverride.id == -1))  # none yet
        assert sgl is None
    truth = keyed_positions(app, first)
    page = "/assessor/batteries/BAT-UJI/regrade"
    html = assessor.get(page).get_data(as_text=True)
    assert "U-SGL" in html
    with app.app_context():
        from cbt_server.models import Item

        item_id = db.session.scalar(select(Item.id).where(Item.item_code == "U-SGL"))
    refused = _post_form(
        assessor,
        page,
        "/assessor/batteries/BAT-UJI/key",
        {"item_id": item_id, "key": "Z", "reason": "kunci salah cetak"},
    )
    assert refused.status_code == 302 and _count(app, KeyOverride) == 0
    no_reason = _post_form(
        assessor, page, "/assessor/batteries/BAT-UJI/regrade", {"bank_version_id": 0, "reason": ""}
    )
    assert no_reason.status_code == 302 and _count(app, AttemptRegrade) == 0
    fixed = _post_form(
        assessor,
        page,
        "/assessor/batteries/BAT-UJI/key",
        {"item_id": item_id, "key": "C", "reason": "kunci salah cetak"},
    )
    assert fixed.status_code == 302 and _count(app, KeyOverride) == 1
    run = _post_form(
        assessor,
        page,
        "/assessor/batteries/BAT-UJI/regrade",
        {"bank_version_id": 0, "reason": "koreksi kunci U-SGL"},
    )
    assert run.status_code == 302
    assert attempt_of(app, lab.participants[0][0]).total_score == 1.0
    assert attempt_of(app, lab.participants[1][0]).total_score == 0.0
    with app.app_context():
        kept = {r.attempt_id: r for r in db.session.scalars(select(AttemptRegrade))}
        assert (kept[first].old_total, kept[first].new_total) == (0.0, 1.0)
        assert (kept[second].old_total, kept[second].new_total) == (1.0, 0.0)
        old_items = {p: s for p, s, _m in kept[first].old_scores["items"]}
        sgl_position = next(t["position"] for t in truth if t["code"] == "U-SGL")
        assert old_items[sgl_position] == 0.0
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "battery.regrade"))
        assert entry.reason == "koreksi kunci U-SGL" and entry.actor_label == "asesor-1"
    history = assessor.get(page).get_data(as_text=True)
    assert "koreksi kunci U-SGL" in history and "kunci salah cetak" in history


def test_regrade_from_a_new_bank_version(app: Flask, lab, assessor, runner, tmp_path: Path):  # type: ignore[no-untyped-def]
    attempt_id = finish(app, lab, 0, {"U-SGL": "C"})
    copy = tmp_path / "qb"
    shutil.copytree(FIXTURE_BANKS, copy)
    bank = next((copy / "banks" / "UJI").glob("*.yaml"))
    text = bank.read_text(encoding="utf-8")
    assert "    key: B\n" in text
    bank.write_text(text.replace("    key: B\n", "    key: C\n", 1), encoding="utf-8")
    assert runner.invoke(args=["banks", "import", str(copy)]).exit_code == 0
    with app.app_context():
        from cbt_server.models import BankVersion

        newest = db.session.scalars(
            select(BankVersion).where(BankVersion.code == "UJI").order_by(BankVersion.id.desc())
        ).first()
    page = "/assessor/batteries/BAT-UJI/regrade"
    run = _post_form(
        assessor,
        page,
        "/assessor/batteries/BAT-UJI/regrade",
        {"bank_version_id": newest.id, "reason": "bank versi 2 memperbaiki kunci"},
    )
    assert run.status_code == 302
    assert attempt_of(app, lab.participants[0][0]).total_score == 1.0
    with app.app_context():
        row = db.session.get(AttemptRegrade, (1, attempt_id))
        assert (row.old_total, row.new_total) == (0.0, 1.0)


def test_assessor_desk_lists_sessions_and_batteries(app: Flask, lab, assessor):  # type: ignore[no-untyped-def]
    finish(app, lab, 0, RIGHT)
    home = assessor.get("/home").get_data(as_text=True)
    assert "/assessor/" in home
    desk = assessor.get("/assessor/")
    assert desk.status_code == 200
    text = desk.get_data(as_text=True)
    assert "S-01" in text and "BAT-UJI" in text
    assert (
        f"/assessor/sessions/{lab.id}/scores" in text
        and "/assessor/batteries/BAT-UJI/regrade" in text
    )
