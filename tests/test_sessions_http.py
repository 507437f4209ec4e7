"""Preparing a session over HTTP: the create form, roster import (CSV/XLSX), exam cards."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import func, select

from cbt_server.accounts.service import create_user
from cbt_server.models import AuditEntry, Enrolment, ExamSession, SessionProctor, User, db
from tests.builders import make_session
from tests.helpers import csrf_token, logged_in, login, problems_table, user_id

NIPS = ("198703152010012001", "199001202015031002", "198512312009121003")
GOOD_CSV = (
    "NIP;Nama;Jabatan;Unit Kerja;Kursi\n"
    f"{NIPS[0]};Siti Nurhaliza;JF-UJ;Tim Mutu I;PC-01\n"
    f"{NIPS[1]};Budi Šantoso;Penguji Ahli;Subbagian Umum;PC-02\n"
    f"{NIPS[2]};Made Wirawan;jf-uj;Tim Mutu II;PC-03\n"
)


@pytest.fixture
def world(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    """Banks imported, an admin, two proctors without the create right, an empty session."""
    lab = make_session(app, participants=0, code="S-RST")
    with app.app_context():
        create_user("admin-1", "sandi-admin", "admin", "Admin Satu")
        create_user("pengawas-a", "sandi-pengawas", "proctor", "Pengawas Anggrek")
        create_user("pengawas-b", "sandi-pengawas", "proctor", "Pengawas Bougenvil")
        db.session.commit()
    return lab


_client = logged_in
_user_id = user_id


@pytest.fixture
def admin(app: Flask, world) -> FlaskClient:  # type: ignore[no-untyped-def]
    return _client(app, "admin-1", "sandi-admin")


def _options(page: str, name: str) -> dict[str, str]:
    """{label: value} of a <select name=...> in a rendered form."""
    block = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.S)
    assert block, f"no select {name}"
    return {
        html.unescape(label): value
        for value, label in re.findall(
            r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', block[0]
        )
    }


def _session_form(client: FlaskClient, **overrides: object):  # type: ignore[no-untyped-def]
    page = client.get("/proctor/sessions/new").get_data(as_text=True)
    batteries = _options(page, "battery")
    proctors = _options(page, "proctors")
    data: dict[str, object] = {
        "csrf_token": csrf_token(page),
        "code": "tkd-01",
        "name": "Uji Kompetensi Teknis Gelombang 1",
        "battery": next(v for k, v in batteries.items() if "BAT-UJI" in k),
        "room": "Lab Komputer 2",
        "day": "2026-11-24",
        "starts": "08:00",
        "ends": "10:30",
        "proctors": [proctors["Pengawas Anggrek"], proctors["Pengawas Bougenvil"]],
        "rotate": "10",
    }
    data.update(overrides)
    return client.post("/proctor/sessions/new", data=data)


def test_admin_creates_a_session_through_the_form(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    response = _session_form(admin)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        session = db.session.scalar(select(ExamSession).where(ExamSession.code == "TKD-01"))
        assert response.headers["Location"].endswith(f"/proctor/sessions/{session.id}")
        # Times are typed in the lab's zone (WIB, UTC+7) and stored in UTC.
        assert session.starts_at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
        assert session.ends_at == datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
        assert (session.room, session.token_rotate_minutes) == ("Lab Komputer 2", 10)
        assert session.token and session.token_rotated_at is not None
        assigned = set(
            db.session.scalars(
                select(User.username)
                .join(SessionProctor, SessionProctor.user_id == User.id)
                .where(SessionProctor.session_id == session.id)
            )
        )
        assert assigned == {"pengawas-a", "pengawas-b"}
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "session.create"))
        assert entry.actor_label == "admin-1" and entry.target == "TKD-01"
        assert entry.details["proctors"] == ["pengawas-a", "pengawas-b"]
        session_id = session.id
    page = admin.get(f"/proctor/sessions/{session_id}").get_data(as_text=True)
    assert "Lab Komputer 2" in page and "24-11-2026 08:00–10:30 WIB" in page
    # Each assigned proctor finds it on the console; a proctor not on it does not.
    chosen = _client(app, "pengawas-a", "sandi-pengawas")
    assert "TKD-01" in chosen.get("/proctor/").get_data(as_text=True)
    assert chosen.get(f"/proctor/sessions/{session_id}").status_code == 200
    stranger = _client(app, *world.proctors[0])
    assert "TKD-01" not in stranger.get("/proctor/").get_data(as_text=True)
    assert stranger.get(f"/proctor/sessions/{session_id}").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # (an end at or before the start is the next day: tests/test_session_editing.py)
        ({"code": "s-rst"}, "Kode sesi S-RST sudah dipakai."),
    ],
)
def test_a_refused_session_form_says_why_and_creates_nothing(
    app: Flask,
    world,
    admin,
    overrides,
    message,  # type: ignore[no-untyped-def]
):
    response = _session_form(admin, **overrides)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ExamSession)) == 1


def test_a_proctor_without_the_create_right_is_refused(app: Flask, world):  # type: ignore[no-untyped-def]
    proctor = _client(app, "pengawas-a", "sandi-pengawas")
    assert "/proctor/sessions/new" not in proctor.get("/proctor/").get_data(as_text=True)
    assert proctor.get("/proctor/sessions/new").status_code == 403
    token = csrf_token(proctor.get("/home").get_data(as_text=True))
    refused = proctor.post("/proctor/sessions/new", data={"csrf_token": token, "code": "X-1"})
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ExamSession)) == 1
        # Given the right, the same proctor may create one, and is put on it.
        user = db.session.scalar(select(User).where(User.username == "pengawas-a"))
        user.can_create_sessions = True
        db.session.commit()
    assert _session_form(proctor, proctors=[]).status_code == 302
    with app.app_context():
        session = db.session.scalar(select(ExamSession).where(ExamSession.code == "TKD-01"))
        mine = (session.id, _user_id(app, "pengawas-a"))
        assert db.session.get(SessionProctor, mine) is not None


# ---------------------------------------------------------------------------- roster import


def _upload(client: FlaskClient, session_id: int, filename: str, data: bytes):  # type: ignore[no-untyped-def]
    page = client.get(f"/proctor/sessions/{session_id}").get_data(as_text=True)
    return client.post(
        f"/proctor/sessions/{session_id}/roster",
        data={"csrf_token": csrf_token(page), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _roster(app: Flask, session_id: int) -> list[tuple[str, str, str, str | None, str | None]]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(
                    User.nip,
                    User.username,
                    User.role,
                    User.position_code,
                    Enrolment.seat,
                    Enrolment.participant_number,
                )
                .join(Enrolment, Enrolment.user_id == User.id)
                .where(Enrolment.session_id == session_id)
                .order_by(Enrolment.participant_number)
            )
        ]


def _imports(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "session.roster_import")
        )


def test_good_csv_roster_creates_participants_with_logins(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    response = _upload(admin, world.id, "peserta.csv", "\ufeff".encode() + GOOD_CSV.encode())
    assert response.status_code == 302
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 peserta ditambahkan." in page
    assert _roster(app, world.id) == [
        (NIPS[0], f"p{NIPS[0]}", "participant", "JF-UJ", "PC-01", "S-RST-001"),
        (NIPS[1], f"p{NIPS[1]}", "participant", "JF-UJ", "PC-02", "S-RST-002"),
        (NIPS[2], f"p{NIPS[2]}", "participant", "JF-UJ", "PC-03", "S-RST-003"),
    ]
    for number in ("S-RST-001", "S-RST-002", "S-RST-003"):
        assert number in page
    assert "Budi Šantoso" in page and "Penguji Ahli" in page
    assert _imports(app) == 1
    # A second file continues the numbering and refuses a NIP already on the session.
    more = "NIP,Nama,Jabatan,Unit\n199505052020121004,Wayan Sudarma,JF-UJ,Tim Mutu III\n"
    assert _upload(admin, world.id, "tambahan.csv", more.encode()).status_code == 302
    assert _roster(app, world.id)[-1][-1] == "S-RST-004"
    again = _upload(admin, world.id, "ulang.csv", GOOD_CSV.encode())
    assert again.status_code == 422
    assert problems_table(again.get_data(as_text=True))[0] == (
        "2",
        "NIP",
        f"NIP {NIPS[0]} ganda (sudah ada di peserta sesi ini)",
    )


def test_good_xlsx_roster(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    data = _xlsx(
        [
            ["Nama Lengkap", "NIP", "Unit Kerja", "Jabatan", "PC"],
            ["Siti Nurhaliza", NIPS[0], "Tim Mutu I", "Penguji Ahli", "PC-07"],
            [None, None, None, None, None],  # a blank line in the sheet is skipped
            ["Budi Santoso", NIPS[1], "Subbagian Umum", "jf-uj", 8],  # a seat typed as a number
        ]
    )
    assert _upload(admin, world.id, "Peserta.XLSX", data).status_code == 302
    assert [(r[0], r[3], r[4], r[5]) for r in _roster(app, world.id)] == [
        (NIPS[0], "JF-UJ", "PC-07", "S-RST-001"),
        (NIPS[1], "JF-UJ", "8", "S-RST-002"),
    ]


CSV_HEADER = "NIP;Nama;Jabatan;Unit;Kursi\n"
CSV_GOOD_ROW = f"{NIPS[0]};Siti;JF-UJ;Tim Mutu I;PC-01\n"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            (CSV_HEADER + CSV_GOOD_ROW + f"{NIPS[0]};Ani;JF-UJ;Tim Mutu I;PC-02\n").encode(),
            ("3", "NIP", f"NIP {NIPS[0]} ganda (sudah ada di baris 2)"),
            id="duplicate-nip",
        ),
        pytest.param(
            (CSV_HEADER + CSV_GOOD_ROW + f"{NIPS[1]};Ani;Kepala Dinas;Tim Mutu I;PC-02\n").encode(),
            ("3", "Jabatan", "jabatan 'Kepala Dinas' tidak ada di standar jabatan"),
            id="unknown-position",
        ),
        pytest.param(
            (CSV_HEADER + CSV_GOOD_ROW + f"{NIPS[1]};  ;JF-UJ;Tim Mutu I;PC-02\n").encode(),
            ("3", "Nama", "nama kosong"),
            id="empty-name",
        ),
        pytest.param(
            ("NIP;Nama;Unit\n" + f"{NIPS[0]};Siti;Tim Mutu I\n").encode(),
            ("1", "Jabatan", "kolom wajib tidak ada"),
            id="missing-column",
        ),
        pytest.param(
            (CSV_HEADER + CSV_GOOD_ROW).encode()
            + f"{NIPS[1]};Bäder;JF-UJ;U;PC-02\n".encode("cp1252"),
            ("3", "Nama", "berkas CSV bukan UTF-8"),
            id="not-utf8",
        ),
    ],
)
def test_bad_csv_imports_nothing_and_names_row_column_problem(
    app: Flask,
    world,
    admin,
    body: bytes,
    problem,  # type: ignore[no-untyped-def]
):
    response = _upload(admin, world.id, "peserta.csv", body)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Daftar peserta ditolak: tidak ada yang diimpor." in page
    found = problems_table(page)
    assert len(found) == 1, found
    row, column, message = found[0]
    assert (row, column) == problem[:2] and message.startswith(problem[2]), found
    assert _roster(app, world.id) == [] and _imports(app) == 0
    with app.app_context():  # not even the valid row's account was made
        assert db.session.scalar(select(User.id).where(User.nip == NIPS[0])) is None


XLSX_HEADER = ["NIP", "Nama", "Jabatan", "Unit", "Kursi"]
XLSX_GOOD_ROW = [NIPS[0], "Siti", "JF-UJ", "Tim Mutu I", "PC-01"]


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        pytest.param(
            [XLSX_HEADER, XLSX_GOOD_ROW, [NIPS[0], "Ani", "JF-UJ", "U", "PC-02"]],
            ("3", "NIP", f"NIP {NIPS[0]} ganda (sudah ada di baris 2)"),
            id="duplicate-nip",
        ),
        pytest.param(
            [XLSX_HEADER, XLSX_GOOD_ROW, [NIPS[1], "Ani", "Kepala Dinas", "U", "PC-02"]],
            ("3", "Jabatan", "jabatan 'Kepala Dinas' tidak ada di standar jabatan"),
            id="unknown-position",
        ),
        pytest.param(
            [XLSX_HEADER, XLSX_GOOD_ROW, [NIPS[1], None, "JF-UJ", "U", "PC-02"]],
            ("3", "Nama", "nama kosong"),
            id="empty-name",
        ),
        pytest.param(
            [["NIP", "Nama", "Jabatan", "Kursi"], [NIPS[0], "Siti", "JF-UJ", "PC-01"]],
            ("1", "Unit", "kolom wajib tidak ada"),
            id="missing-column",
        ),
        pytest.param(
            # What Excel stores when a NIP is typed as a number: 15 significant digits.
            [XLSX_HEADER, XLSX_GOOD_ROW, [float(NIPS[1]), "Ani", "JF-UJ", "U", "PC-02"]],
            ("3", "NIP", "NIP tersimpan sebagai angka"),
            id="nip-as-number",
        ),
    ],
)
def test_bad_xlsx_imports_nothing_and_names_row_column_problem(
    app: Flask,
    world,
    admin,
    rows,
    problem,  # type: ignore[no-untyped-def]
):
    response = _upload(admin, world.id, "peserta.xlsx", _xlsx(rows))
    assert response.status_code == 422
    found = problems_table(response.get_data(as_text=True))
    assert len(found) == 1, found
    row, column, message = found[0]
    assert (row, column) == problem[:2] and message.startswith(problem[2]), found
    assert _roster(app, world.id) == [] and _imports(app) == 0


def test_a_damaged_or_foreign_file_is_refused_with_a_message(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    for name, data, text in [
        ("peserta.xlsx", b"PK\x03\x04 not really a workbook", "berkas XLSX tidak dapat dibaca"),
        ("peserta.pdf", b"%PDF-1.4", "gunakan .csv atau .xlsx"),
    ]:
        response = _upload(admin, world.id, name, data)
        assert response.status_code == 422
        [(_row, _column, message)] = problems_table(response.get_data(as_text=True))
        assert text in message
    assert _roster(app, world.id) == []


def test_a_nip_of_a_staff_account_is_a_row_problem(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    with app.app_context():
        proctor = db.session.scalar(select(User).where(User.username == "pengawas-a"))
        proctor.nip = NIPS[1]
        db.session.commit()
    response = _upload(admin, world.id, "peserta.csv", GOOD_CSV.encode())
    assert response.status_code == 422
    assert problems_table(response.get_data(as_text=True)) == [
        ("3", "NIP", f"NIP {NIPS[1]} milik akun yang bukan peserta")
    ]
    assert _roster(app, world.id) == []


def test_a_proctor_imports_only_into_their_own_session(app: Flask, world):  # type: ignore[no-untyped-def]
    other = make_session(app, participants=0, code="S-LAIN")
    proctor = _client(app, *world.proctors[0])
    assert _upload(proctor, world.id, "peserta.csv", GOOD_CSV.encode()).status_code == 302
    token = csrf_token(proctor.get("/home").get_data(as_text=True))
    refused = proctor.post(
        f"/proctor/sessions/{other.id}/roster",
        data={"csrf_token": token, "file": (io.BytesIO(GOOD_CSV.encode()), "p.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 404 and _roster(app, other.id) == []


# ------------------------------------------------------------------------------- exam cards


def _cards(client: FlaskClient, session_id: int) -> str:
    page = client.get(f"/proctor/sessions/{session_id}").get_data(as_text=True)
    response = client.post(
        f"/proctor/sessions/{session_id}/cards", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _card_fields(page: str) -> list[dict[str, str]]:
    cards = []
    for block in re.findall(r'<div class="exam-card".*?</table>', page, re.S):
        fields = {
            html.unescape(k): html.unescape(v)
            for k, v in re.findall(r"<tr><th>(.*?)</th><td[^>]*>(.*?)</td></tr>", block)
        }
        fields["header"] = html.unescape(re.search(r'<p class="small">(.*?)</p>', block, re.S)[1])
        cards.append(fields)
    return cards


def test_exam_cards_show_everything_a_participant_needs(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    assert _upload(admin, world.id, "peserta.csv", GOOD_CSV.encode()).status_code == 302
    page = _cards(admin, world.id)
    cards = _card_fields(page)
    assert [(c["Nama"], c["NIP"], c["Kursi"], c["Login"]) for c in cards] == [
        ("Siti Nurhaliza", NIPS[0], "PC-01", "S-RST-001"),
        ("Budi Šantoso", NIPS[1], "PC-02", "S-RST-002"),
        ("Made Wirawan", NIPS[2], "PC-03", "S-RST-003"),
    ]
    for card in cards:
        assert card["Jabatan"] == "Penguji Ahli"
        assert re.fullmatch(r"[a-z2-9]{8}", card["Kata sandi"]), card
        assert "Sesi S-RST" in card["header"] and "(S-RST)" in card["header"]
        assert "Lab 1" in card["header"] and "WIB" in card["header"]
    assert len({c["Kata sandi"] for c in cards}) == 3
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "session.credentials")
        )
        assert entry.actor_label == "admin-1" and entry.details["count"] == 3
        assert all(c["Kata sandi"] not in str(entry.details) for c in cards)
    # The card's login and password open the participant's exam entry page.
    participant = app.test_client()
    entered = login(participant, cards[1]["Login"].lower(), cards[1]["Kata sandi"])
    assert entered.status_code == 302 and entered.headers["Location"].endswith("/exam/")
    # Printing again makes no new card for those who have one: the cards keep working.
    again = _cards(admin, world.id)
    assert _card_fields(again) == [] and 'data-testid="cards-skipped"' in again
    assert login(app.test_client(), cards[0]["Login"], cards[0]["Kata sandi"]).status_code == 302


def test_exam_cards_print_several_to_an_a4_page(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    rows = "".join(
        f"{1990_0101_2020_0100_00 + n};Peserta {n};JF-UJ;Unit;PC-{n:02d}\n" for n in range(1, 10)
    )
    assert _upload(admin, world.id, "p.csv", (CSV_HEADER + rows).encode()).status_code == 302
    page = _cards(admin, world.id)
    assert 'class="a4"' in page and "css/print.css" in page
    container = re.search(r'<div class="cards">(.*)</div>\s*</body>', page, re.S)
    assert container, "the cards are not grouped in one container"
    assert container[1].count('data-testid="exam-card"') == 9
    css = admin.get("/static/css/print.css").get_data(as_text=True)
    assert re.search(r"@page\s*{[^}]*size:\s*A4", css)
    cards_rule = re.search(r"\.cards\s*{([^}]*)}", css)[1]
    assert "display: grid" in cards_rule and "grid-template-columns: 1fr 1fr" in cards_rule
    card_rule = re.search(r"\.exam-card\s*{([^}]*)}", css)[1]
    # Never cut: a card that does not fit moves to the next sheet. No forced break every N
    # cards (a taller card would leave a sheet with one card); Chromium prints them as checked
    # in tests/e2e/test_print_pages.py (several to a sheet, each whole).
    assert "break-inside: avoid" in card_rule
    assert not re.search(r"\.exam-card:nth-child\([^)]*\)\s*{\s*break-after:\s*page", css)


def test_a_lost_card_is_reprinted_alone(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    assert _upload(admin, world.id, "peserta.csv", GOOD_CSV.encode()).status_code == 302
    first = _card_fields(_cards(admin, world.id))
    with app.app_context():
        lost = db.session.scalar(
            select(Enrolment.id).where(Enrolment.participant_number == "S-RST-002")
        )
    base = f"/proctor/sessions/{world.id}"
    token = csrf_token(admin.get(base).get_data(as_text=True))
    bad = admin.post(f"{base}/cards", data={"csrf_token": token, "enrolment_ids": "dua"})
    assert bad.status_code == 400
    again = admin.post(
        f"{base}/cards",
        data={"csrf_token": token, "enrolment_ids": str(lost), "reason": "kartu hilang"},
    )
    [card] = _card_fields(again.get_data(as_text=True))
    assert card["Login"] == "S-RST-002" and card["Kata sandi"] != first[1]["Kata sandi"]
    # Only that card's password changed.
    assert login(app.test_client(), "S-RST-002", first[1]["Kata sandi"]).status_code == 401
    assert login(app.test_client(), "S-RST-002", card["Kata sandi"]).status_code == 302
    assert login(app.test_client(), "S-RST-001", first[0]["Kata sandi"]).status_code == 302
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "session.credentials")
            .order_by(AuditEntry.id)
        ).all()
        assert [(e.details["scope"], e.reason) for e in entries] == [
            ("all", None),
            ("some", "kartu hilang"),
        ]
