"""The session report (berita acara) and the attendance list (daftar hadir), pages and CSV."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.builders import Participant, make_session
from tests.helpers import csrf_token, login

NAMES = ["Siti Nurhaliza", "Budi Šantoso", "Made Wirawan", "Ani Lestari", "Yohanes Kbarek", "Rina"]
ROSTER = "NIP;Nama;Jabatan;Unit Kerja;Kursi\n" + "".join(
    f"19870315201001{n:04d};{name};JF-UJ;Tim Mutu {n};PC-{n:02d}\n"
    for n, name in enumerate(NAMES, start=1)
)
# Late evening in UTC is the next morning in the lab (WIB, UTC+7): the report must say so.
EVENING_UTC = datetime(2026, 11, 23, 23, 35, tzinfo=UTC)


@pytest.fixture
def lab(app: Flask, fixture_banks, clock):  # type: ignore[no-untyped-def]
    clock.set(EVENING_UTC)
    return make_session(app, participants=0, proctors=2, code="S-BA")  # opens 23:30 UTC


@pytest.fixture
def proctor(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


def _page_token(client: FlaskClient, path: str) -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


@pytest.fixture
def people(app: Flask, lab, proctor) -> list[Participant]:  # type: ignore[no-untyped-def]
    """The roster imported and the cards printed, as a proctor does: one PC per card."""
    base = f"/proctor/sessions/{lab.id}"
    upload = proctor.post(
        f"{base}/roster",
        data={
            "csrf_token": _page_token(proctor, base),
            "file": (io.BytesIO(ROSTER.encode()), "p.csv"),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302
    cards = proctor.post(f"{base}/cards", data={"csrf_token": _page_token(proctor, base)})
    page = cards.get_data(as_text=True)
    logins = re.findall(r'data-testid="card-login">([^<]+)<', page)
    passwords = re.findall(r'data-testid="card-password">([^<]+)<', page)
    assert len(logins) == len(passwords) == len(NAMES)
    return [Participant(app, u, p) for u, p in zip(logins, passwords, strict=True)]


def act(proctor: FlaskClient, lab, action: str, person: Participant | None, **fields: str):  # type: ignore[no-untyped-def]
    base = f"/proctor/sessions/{lab.id}"
    data = {"csrf_token": _page_token(proctor, f"{base}/monitor"), **fields}
    if person is not None:
        data["enrolment_ids"] = str(_enrolment_id(proctor, lab, person))
    response = proctor.post(
        f"{base}/act/{action}", data=data, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.get_json()
    return response


def _enrolment_id(proctor: FlaskClient, lab, person: Participant) -> int:  # type: ignore[no-untyped-def]
    seats = proctor.get(f"/proctor/sessions/{lab.id}/monitor.json").get_json()["seats"]
    return next(s["enrolment_id"] for s in seats if s["participant_number"] == person.username)


def note(proctor: FlaskClient, lab, text: str, person: Participant | None = None) -> None:  # type: ignore[no-untyped-def]
    base = f"/proctor/sessions/{lab.id}"
    data = {"csrf_token": _page_token(proctor, f"{base}/monitor"), "text": text}
    if person is not None:
        data["enrolment_id"] = str(_enrolment_id(proctor, lab, person))
    response = proctor.post(f"{base}/notes", data=data, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def held(app: Flask, lab, proctor, people, clock):  # type: ignore[no-untyped-def]
    """A session that happened: finished, force-submitted, voided, expired, running, absent."""
    done, forced, voided, running, absent, late = people
    late.begin(lab.token)  # 23:35 UTC: the first to start, the one whose time runs out
    clock.advance(minutes=25)
    for person in (done, forced, voided, running):
        person.begin(lab.token)
    clock.advance(minutes=1)
    assert done.post("/submit").status_code == 200
    act(proctor, lab, "force_submit", forced, reason="meninggalkan ruangan tanpa izin")
    act(proctor, lab, "void", voided, reason="membawa catatan ke ruang ujian")
    act(proctor, lab, "extend", running, reason="PC mati listrik 5 menit", minutes="5")
    note(proctor, lab, "AC ruangan mati sekitar 10 menit")
    note(proctor, lab, "mengeluh sakit kepala, tetap melanjutkan", running)
    clock.advance(minutes=5)  # 31 min after the first start: past deadline and grace
    assert late.attempt()["state"] == "expired"
    return {
        "done": done,
        "forced": forced,
        "voided": voided,
        "running": running,
        "absent": absent,
        "late": late,
    }


def _csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff"), "Excel needs the BOM to read names with accents"
    return list(csv.reader(io.StringIO(text[1:])))


def _cells(page: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">([^<]*)<', page)
    assert found, testid
    return found[1]


def test_berita_acara_page(held, proctor, lab):  # type: ignore[no-untyped-def]
    page = html.unescape(proctor.get(f"/proctor/sessions/{lab.id}/report").get_data(as_text=True))
    assert "BERITA ACARA PELAKSANAAN UJIAN" in page
    # 23:30 UTC on the 23rd is 06:30 WIB on the 24th, a Tuesday: the day in words, as on paper.
    assert "Pada hari ini, Selasa, 24 November 2026," in page
    assert "Sesi S-BA (S-BA)" in page and "Baterai Uji" in page and "Lab 1" in page
    assert "06:30–10:30 WIB" in page
    assert "Pengawas 1, Pengawas 2" in page
    counts = {
        k: _cells(page, f"count-{k}") for k in ("registered", "present", "absent", "finished")
    }
    assert counts == {"registered": "6", "present": "5", "absent": "1", "finished": "3"}
    rows = re.findall(
        r"<tr><td>([\d:]+)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", page
    )
    assert [(what, target, reason) for _at, _who, what, target, reason in rows] == [
        ("Kumpulkan paksa", held["forced"].username, "meninggalkan ruangan tanpa izin"),
        ("Batalkan ujian", held["voided"].username, "membawa catatan ke ruang ujian"),
        ("Tambah waktu 5 menit", held["running"].username, "PC mati listrik 5 menit"),
        ("Catatan", "sesi", "AC ruangan mati sekitar 10 menit"),
        ("Catatan", held["running"].username, "mengeluh sakit kepala, tetap melanjutkan"),
    ]
    assert {who for _at, who, *_rest in rows} == {"Pengawas 1"}
    assert rows[0][0] == "07:01:00"  # 00:01 UTC, shown in WIB
    # The absentee by name; everyone signs: one line per proctor.
    absentees = re.findall(r'<tr data-testid="absentee">(.*?)</tr>', page)
    assert len(absentees) == 1 and "Yohanes Kbarek" in absentees[0]
    assert held["absent"].username in absentees[0]
    assert page.count('class="sign-line"') == 2
    assert "Pengawas 1," in page and "Pengawas 2," in page


def test_berita_acara_csv(held, proctor, lab):  # type: ignore[no-untyped-def]
    response = proctor.get(f"/proctor/sessions/{lab.id}/report.csv")
    assert 'filename="berita-acara-S-BA.csv"' in response.headers["Content-Disposition"]
    rows = _csv(response)
    blank = rows.index([])
    facts = dict(rows[:blank])
    assert facts == {
        "Kode sesi": "S-BA",
        "Nama sesi": "Sesi S-BA",
        "Ruang": "Lab 1",
        "Tanggal": "2026-11-24",
        "Waktu (WIB)": "06:30-10:30",
        "Tes": "Baterai Uji",
        "Pengawas": "Pengawas 1; Pengawas 2",
        "Terdaftar": "6",
        "Hadir": "5",
        "Tidak hadir": "1",
        "Selesai": "3",
        "Dibatalkan": "1",
        "Masih berlangsung": "1",
    }
    header, *events = rows[blank + 1 :]
    assert header == ["Waktu (WIB)", "Oleh", "Kejadian", "Peserta", "Alasan / catatan"]
    assert events[0] == [
        "2026-11-24 07:01:00",
        "Pengawas 1",
        "Kumpulkan paksa",
        held["forced"].username,
        "meninggalkan ruangan tanpa izin",
    ]
    assert [e[2] for e in events] == [
        "Kumpulkan paksa",
        "Batalkan ujian",
        "Tambah waktu 5 menit",
        "Catatan",
        "Catatan",
    ]
    assert events[3][3:] == ["sesi", "AC ruangan mati sekitar 10 menit"]


def test_token_rotation_by_the_proctor_appears_in_the_report(held, proctor, lab):  # type: ignore[no-untyped-def]
    base = f"/proctor/sessions/{lab.id}"
    rotated = proctor.post(
        f"{base}/token",
        data={"csrf_token": _page_token(proctor, f"{base}/monitor"), "reason": "token bocor"},
    )
    assert rotated.status_code == 302
    events = _csv(proctor.get(f"{base}/report.csv"))[-1]
    assert events[2:] == ["Ganti token", "sesi", "token bocor"]


def test_an_empty_session_report_says_nothing_happened(proctor, lab):  # type: ignore[no-untyped-def]
    page = proctor.get(f"/proctor/sessions/{lab.id}/report").get_data(as_text=True)
    assert "Tidak ada kejadian khusus." in page
    assert _cells(page, "count-registered") == "0" and _cells(page, "count-present") == "0"
    rows = _csv(proctor.get(f"/proctor/sessions/{lab.id}/report.csv"))
    assert rows[-1] == ["Waktu (WIB)", "Oleh", "Kejadian", "Peserta", "Alasan / catatan"]


def test_daftar_hadir_page(held, proctor, lab):  # type: ignore[no-untyped-def]
    page = html.unescape(
        proctor.get(f"/proctor/sessions/{lab.id}/attendance").get_data(as_text=True)
    )
    assert "DAFTAR HADIR PESERTA UJIAN" in page and "06:30–10:30 WIB" in page
    assert "Selasa, 24 November 2026" in page
    rows = re.findall(r"<tr><td>(\d+)</td>(.*?)</tr>", page)
    assert len(rows) == len(NAMES)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for _n, row in rows]
    names = [re.search(r'<span class="name">(.*?)</span>', c[1])[1] for c in cells]
    assert [(c[0], name, c[3], c[4]) for c, name in zip(cells, names, strict=True)] == [
        (held["done"].username, NAMES[0], "PC-01", "Selesai"),
        (held["forced"].username, NAMES[1], "PC-02", "Selesai"),
        (held["voided"].username, NAMES[2], "PC-03", "Dibatalkan"),
        (held["running"].username, NAMES[3], "PC-04", "Sedang mengerjakan"),
        (held["absent"].username, NAMES[4], "PC-05", "Tidak hadir"),
        (held["late"].username, NAMES[5], "PC-06", "Selesai (waktu habis)"),
    ]
    # The NIP under each name: the A4 page has no room for a column of 18 digits.
    assert all('data-testid="nip">19870315201001' in c[1] for c in cells)
    assert page.count('class="sign-cell') == len(NAMES)  # a box to sign in, per person
    assert page.count('data-testid="sign-line"') == 2  # and each proctor signs the list


def test_daftar_hadir_csv(held, proctor, lab):  # type: ignore[no-untyped-def]
    response = proctor.get(f"/proctor/sessions/{lab.id}/attendance.csv")
    assert 'filename="daftar-hadir-S-BA.csv"' in response.headers["Content-Disposition"]
    header, *rows = _csv(response)
    assert header == [
        "No",
        "Nomor Peserta",
        "NIP",
        "Nama",
        "Jabatan",
        "Unit Kerja",
        "Kursi",
        "Kehadiran",
        "Status",
        "Mulai (WIB)",
        "Selesai (WIB)",
    ]
    by_name = {row[3]: row for row in rows}
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    assert by_name["Budi Šantoso"][1:9] == [
        held["forced"].username,
        "198703152010010002",
        "Budi Šantoso",
        "Penguji Ahli",
        "Tim Mutu 2",
        "PC-02",
        "Hadir",
        "Selesai",
    ]
    # Started 00:00 UTC (07:00 WIB) and force-submitted a minute later.
    assert by_name["Budi Šantoso"][9:] == ["2026-11-24 07:00:00", "2026-11-24 07:01:00"]
    assert by_name["Yohanes Kbarek"][7:] == ["Tidak hadir", "Tidak hadir", "", ""]
    # Expired: the finish time is the deadline (06:35 + 30 min WIB), not when it was noticed.
    assert by_name["Rina"][7:] == [
        "Hadir",
        "Selesai (waktu habis)",
        "2026-11-24 06:35:00",
        "2026-11-24 07:05:00",
    ]
    assert by_name["Ani Lestari"][8:10] == ["Sedang mengerjakan", "2026-11-24 07:00:00"]
    assert by_name["Ani Lestari"][10] == ""


def test_reports_are_only_for_the_sessions_proctors(app: Flask, held, lab):  # type: ignore[no-untyped-def]
    stranger = make_session(app, participants=0, code="S-LAIN")
    client = app.test_client()
    assert login(client, *stranger.proctors[0]).status_code == 302
    for tail in ("report", "report.csv", "attendance", "attendance.csv"):
        assert client.get(f"/proctor/sessions/{lab.id}/{tail}").status_code == 404
    participant = held["done"].client
    assert participant.get(f"/proctor/sessions/{lab.id}/report.csv").status_code == 403
