"""Sessions over days (issue 11): night sessions, editing, deleting, copying and scheduling
sessions, moving and removing participants, over HTTP as an admin or a proctor does it.

The test clock starts on Monday 23-11-2026 at 08:00 UTC, 15:00 in the lab (WIB, UTC+7).
"""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from cbt_server.models import (
    Attempt,
    AuditEntry,
    BatteryVersion,
    Enrolment,
    ExamSession,
    SessionProctor,
    User,
    db,
)
from tests.builders import LabSession, Participant, make_session
from tests.helpers import csrf_token, logged_in, problems_table, user_id

DAY = "2026-11-23"
ROSTER = (
    "NIP;Nama;Jabatan;Unit Kerja;Kursi\n"
    "198703152010012001;Siti Nurhaliza;JF-UJ;Tim Mutu I;PC-01\n"
    "199001202015031002;Budi Santoso;JF-UJ;Subbagian Umum;PC-02\n"
    "198512312009121003;Made Wirawan;JF-UJ;Tim Mutu II;PC-03\n"
)


def _wib(day: str, at: str) -> datetime:
    """A lab time (WIB) as the UTC moment the server stores."""
    local = datetime.fromisoformat(f"{day}T{at}:00+07:00")
    return local.astimezone(UTC)


@pytest.fixture
def world(app: Flask, fixture_banks) -> LabSession:  # type: ignore[no-untyped-def]
    """An admin; proctor A (may create sessions) and B (may not); S-01 open now (opened
    5 minutes ago, 4 hours long) with two participants and its own proctor."""
    lab = make_session(app, participants=2, code="S-01")
    with app.app_context(), write_transaction():
        create_user("admin-1", "sandi-admin", "admin", "Admin Satu")
        maker = create_user("pengawas-a", "sandi-pengawas", "proctor", "Pengawas Anggrek")
        maker.can_create_sessions = True
        create_user("pengawas-b", "sandi-pengawas", "proctor", "Pengawas Bougenvil")
    return lab


def _client(app: Flask, username: str, password: str = "sandi-pengawas") -> FlaskClient:
    return logged_in(app, username, password)


@pytest.fixture
def admin(app: Flask, world) -> FlaskClient:  # type: ignore[no-untyped-def]
    return logged_in(app, "admin-1", "sandi-admin")


_user_id = user_id


def _session(app: Flask, code: str) -> ExamSession | None:
    with app.app_context():
        found = db.session.scalar(select(ExamSession).where(ExamSession.code == code))
        if found is not None:
            db.session.expunge(found)
        return found


def _audits(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def _count(app: Flask, model, **where) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return db.session.scalar(query) or 0


def _options(page: str, name: str) -> dict[str, str]:
    """{label: value} of a <select name=...> in a rendered page."""
    block = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.S)
    assert block, f"no select {name}"
    return {
        html.unescape(label).strip(): value
        for value, label in re.findall(
            r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', block[0]
        )
    }


def _form_values(page: str) -> dict[str, object]:
    """What a browser would post back of the page's session form as it stands."""
    form = re.search(r'<form[^>]*class="form-grid".*?</form>', page, re.S)
    assert form
    values: dict[str, object] = {}
    for attributes in re.findall(r"<input([^>]*)>", form[0]):
        found = dict(re.findall(r'([\w-]+)="([^"]*)"', attributes))
        ticked = found.get("type") != "checkbox" or re.search(r"\bchecked\b", attributes)
        if "name" in found and ticked:
            values[found["name"]] = html.unescape(found.get("value", ""))
    for name, block in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form[0], re.S):
        values[name] = re.findall(r'<option selected value="([^"]*)"', block)
    return values


def _post_form(client: FlaskClient, path: str, **changes: object):  # type: ignore[no-untyped-def]
    """Open the page's form, change some fields and send it."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    values = _form_values(page.get_data(as_text=True))
    values.update(changes)
    return client.post(path, data=values)


def _new_session(client: FlaskClient, **fields: object):  # type: ignore[no-untyped-def]
    page = client.get("/proctor/sessions/new").get_data(as_text=True)
    data: dict[str, object] = {
        "csrf_token": csrf_token(page),
        "code": "MLM-01",
        "name": "Uji Malam",
        "battery": next(v for k, v in _options(page, "battery").items() if "BAT-UJI" in k),
        "room": "Lab Malam",
        "day": DAY,
        "starts": "20:00",
        "ends": "06:00",
        "proctors": [_options(page, "proctors")["Pengawas Anggrek"]],
        "rotate": "0",
    }
    data.update(fields)
    return client.post("/proctor/sessions/new", data=data)


def _import(client: FlaskClient, session_id: int, rows: str = ROSTER) -> None:
    page = client.get(f"/proctor/sessions/{session_id}").get_data(as_text=True)
    response = client.post(
        f"/proctor/sessions/{session_id}/roster",
        data={"csrf_token": csrf_token(page), "file": (io.BytesIO(rows.encode()), "p.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def _cards(client: FlaskClient, session_id: int) -> list[tuple[str, str]]:
    """Print the session's cards: (participant number, password) each."""
    page = client.get(f"/proctor/sessions/{session_id}").get_data(as_text=True)
    printed = client.post(
        f"/proctor/sessions/{session_id}/cards", data={"csrf_token": csrf_token(page)}
    ).get_data(as_text=True)
    logins = re.findall(r'data-testid="card-login">([^<]+)<', printed)
    passwords = re.findall(r'data-testid="card-password">([^<]+)<', printed)
    return list(zip(logins, passwords, strict=True))


SITI, BUDI = "198703152010012001", "199001202015031002"  # NIPs in ROSTER


def _card_of(
    app: Flask, cards: list[tuple[str, str]], session_id: int, nip: str
) -> tuple[str, str]:
    """The card (participant number, password) of the person with ``nip`` in that session
    (cards print by participant number, and builder-made enrolments have none: the order of
    the unnumbered ones is the database's)."""
    with app.app_context():
        number = db.session.scalar(
            select(Enrolment.participant_number)
            .join(User, User.id == Enrolment.user_id)
            .where(Enrolment.session_id == session_id, User.nip == nip)
        )
    return next(card for card in cards if card[0] == number)


def _token(app: Flask, session_id: int) -> str:
    """The token the proctor reads out now (rotated when due, as the monitor shows it)."""
    from cbt_server.sessions.token_service import current_token

    with app.app_context():
        return current_token(session_id).token


def _enrolment_ids(app: Flask, session_id: int) -> dict[str, int]:
    """{username: enrolment id} of a session's roster."""
    with app.app_context():
        return dict(
            db.session.execute(
                select(User.username, Enrolment.id)
                .join(Enrolment, Enrolment.user_id == User.id)
                .where(Enrolment.session_id == session_id)
            ).all()
        )


def _flashes(client: FlaskClient, response) -> str:  # type: ignore[no-untyped-def]
    """The page a redirect leads to (where the outcome is flashed)."""
    assert response.status_code in (302, 303), response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


# ---- night sessions ------------------------------------------------------------------------


def test_a_night_session_runs_from_2000_to_0600_the_next_morning(app: Flask, world, admin, clock):  # type: ignore[no-untyped-def]
    form = admin.get("/proctor/sessions/new").get_data(as_text=True)
    assert "Selesai besok." in form and "session-form.js" in form
    created = _new_session(admin)
    assert created.status_code == 302, created.get_data(as_text=True)
    night = _session(app, "MLM-01")
    assert (night.starts_at, night.ends_at) == (_wib(DAY, "20:00"), _wib("2026-11-24", "06:00"))
    page = admin.get(f"/proctor/sessions/{night.id}").get_data(as_text=True)
    assert "23-11-2026 20:00–24-11-2026 06:00 WIB" in page
    console = admin.get("/proctor/").get_data(as_text=True)
    assert "23-11-2026 20:00–24-11-2026 06:00" in console
    _import(admin, night.id)
    cards = _cards(admin, night.id)
    assert len(cards) == 3
    token = _token(app, night.id)

    early = Participant(app, *cards[0])
    assert early.login().status_code == 302
    assert early.enter_token(token).status_code != 302  # 15:00: not open yet
    clock.set(_wib(DAY, "23:30"))
    assert early.enter_token(token).headers["Location"].endswith("/exam/confirm")
    assert early.start().status_code == 302
    assert early.attempt()["state"] == "in_progress"
    clock.set(_wib("2026-11-24", "01:00"))
    assert Participant(app, *cards[1]).begin(token)["state"] == "in_progress"
    clock.set(_wib("2026-11-24", "06:00"))
    late = Participant(app, *cards[2])
    assert late.login().status_code == 302
    refused = late.enter_token(token)
    assert refused.status_code != 302 or not refused.headers["Location"].endswith("/exam/confirm")
    assert "sudah ditutup" in late.client.get("/exam/").get_data(as_text=True) + (
        refused.get_data(as_text=True)
    )
    assert _count(app, Attempt, session_id=night.id) == 2
    # The printed papers name both days.
    report = admin.get(f"/proctor/sessions/{night.id}/report").get_data(as_text=True)
    assert "Senin, 23 November 2026 s.d. Selasa, 24 November 2026" in report
    assert "20:00–24-11-2026 06:00 WIB" in report
    attendance = admin.get(f"/proctor/sessions/{night.id}/attendance").get_data(as_text=True)
    assert "Senin, 23 November 2026 s.d. Selasa, 24 November 2026" in attendance
    csv = admin.get(f"/proctor/sessions/{night.id}/report.csv").get_data(as_text=True)
    assert "2026-11-23 s.d. 2026-11-24" in csv


def test_a_window_lasts_at_most_a_day(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    # 08:00–08:00 is the whole day; nothing typed on the form lasts longer.
    assert _new_session(admin, code="DAY-01", starts="08:00", ends="08:00").status_code == 302
    whole = _session(app, "DAY-01")
    assert whole.ends_at - whole.starts_at == timedelta(hours=24)
    from cbt_server.sessions.service import SessionError, check_window

    with pytest.raises(SessionError, match="paling lama 24 jam"):
        check_window(whole.starts_at, whole.starts_at + timedelta(hours=24, minutes=1))


def test_the_window_is_typed_as_a_day_and_two_times(app: Flask) -> None:
    from cbt_server.localtime import window_from_local, window_text

    with app.app_context():
        night = window_from_local(date(2026, 11, 23), time(20), time(6))
        assert night == (_wib(DAY, "20:00"), _wib("2026-11-24", "06:00"))
        assert window_text(*night) == "23-11-2026 20:00–24-11-2026 06:00"
        day = window_from_local(date(2026, 11, 23), time(8), time(10, 30))
        assert window_text(*day) == "23-11-2026 08:00–10:30"
        # Ending at midnight sharp is still the same evening.
        evening = window_from_local(date(2026, 11, 23), time(22), time(0))
        assert window_text(*evening) == "23-11-2026 22:00–00:00"


# ---- editing ---------------------------------------------------------------------------------


def _later(app: Flask, world: LabSession) -> LabSession:
    """S-02 tomorrow (opens in 24 hours), with one participant and its proctor."""
    return make_session(app, participants=1, code="S-02", opens_in_minutes=24 * 60)


def test_before_its_start_everything_may_be_edited(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    later = _later(app, world)
    response = _post_form(
        admin,
        f"/proctor/sessions/{later.id}/edit",
        name="Sesi Pindah Hari",
        room="Lab 3",
        day="2026-11-25",
        starts="19:00",
        ends="01:00",
        rotate="5",
        proctors=[str(_user_id(app, "pengawas-a")), str(_user_id(app, "pengawas-b"))],
    )
    page = _flashes(admin, response)
    assert "Sesi disimpan." in page and "25-11-2026 19:00–26-11-2026 01:00 WIB" in page
    edited = _session(app, "S-02")
    assert (edited.name, edited.room, edited.token_rotate_minutes) == (
        "Sesi Pindah Hari",
        "Lab 3",
        5,
    )
    assert edited.ends_at == _wib("2026-11-26", "01:00")
    with app.app_context():
        assigned = set(
            db.session.scalars(
                select(User.username)
                .join(SessionProctor, SessionProctor.user_id == User.id)
                .where(SessionProctor.session_id == later.id)
            )
        )
    assert assigned == {"pengawas-a", "pengawas-b"}
    (row,) = _audits(app, "session.edit")
    assert row.target == "S-02" and row.actor_label == "admin-1" and row.reason is None
    assert row.details["after_start"] is False
    assert row.details["changes"]["room"] == ["Lab 1", "Lab 3"]
    assert row.details["changes"]["proctors"] == [["s-02-proctor1"], ["pengawas-a", "pengawas-b"]]
    # Sending the same again changes nothing and writes nothing.
    again = _flashes(admin, _post_form(admin, f"/proctor/sessions/{later.id}/edit"))
    assert "Tidak ada perubahan." in again
    assert len(_audits(app, "session.edit")) == 1


def test_after_its_start_only_the_end_and_proctors_change_with_a_reason(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    path = f"/proctor/sessions/{world.id}/edit"
    page = admin.get(path).get_data(as_text=True)
    assert "Sesi sudah dimulai" in page
    before = _session(app, "S-01")
    refused = _post_form(admin, path, room="Lab 9", reason="pindah ruang")
    assert refused.status_code == 422
    assert "hanya waktu selesai dan pengawas yang dapat diubah" in refused.get_data(as_text=True)
    assert "ruang" in refused.get_data(as_text=True)
    no_reason = _post_form(admin, path, ends="21:00")
    assert no_reason.status_code == 422
    assert "Tuliskan alasan perubahan sesi yang sudah dimulai." in no_reason.get_data(as_text=True)
    assert _session(app, "S-01").ends_at == before.ends_at and _audits(app, "session.edit") == []
    extended = _post_form(
        admin,
        path,
        ends="21:00",
        proctors=[str(_user_id(app, "pengawas-b"))],
        reason="Listrik padam 30 menit",
    )
    assert "Sesi disimpan." in _flashes(admin, extended)
    after = _session(app, "S-01")
    assert after.ends_at == _wib(DAY, "21:00") and after.room == before.room
    (row,) = _audits(app, "session.edit")
    assert row.reason == "Listrik padam 30 menit" and row.details["after_start"] is True
    assert set(row.details["changes"]) == {"ends_at", "proctors"}
    # The session's report lists the change among its events, with the reason.
    report = admin.get(f"/proctor/sessions/{world.id}/report").get_data(as_text=True)
    assert "Ubah sesi" in report and "Listrik padam 30 menit" in report


def test_who_may_edit(app: Flask, world):  # type: ignore[no-untyped-def]
    later = _later(app, world)
    path = f"/proctor/sessions/{later.id}/edit"
    # On the session without the right to create sessions: 403.
    assert _client(app, *later.proctors[0]).get(path).status_code == 403
    # With the right but not on the session: 404, as for every session not one's own.
    maker = _client(app, "pengawas-a")
    assert maker.get(path).status_code == 404
    with app.app_context(), write_transaction():
        db.session.add(SessionProctor(session_id=later.id, user_id=_user_id(app, "pengawas-a")))
    response = _post_form(maker, path, room="Lab 4")
    assert "Sesi disimpan." in _flashes(maker, response)
    assert _session(app, "S-02").room == "Lab 4"


# ---- deleting --------------------------------------------------------------------------------


def test_a_session_nobody_started_is_deleted_with_its_roster(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    later = _later(app, world)
    path = f"/proctor/sessions/{later.id}/delete"
    token = csrf_token(admin.get(f"/proctor/sessions/{later.id}/edit").get_data(as_text=True))
    unconfirmed = _flashes(admin, admin.post(path, data={"csrf_token": token, "confirm": "S-0"}))
    assert "Ketik kode sesi S-02 untuk menghapusnya." in unconfirmed
    assert _session(app, "S-02") is not None
    deleted = admin.post(path, data={"csrf_token": token, "confirm": "s-02"})
    assert "Sesi S-02 dihapus." in _flashes(admin, deleted)
    assert _session(app, "S-02") is None
    assert _count(app, Enrolment, session_id=later.id) == 0
    assert _count(app, SessionProctor, session_id=later.id) == 0
    (row,) = _audits(app, "session.delete")
    assert row.target == "S-02" and row.actor_label == "admin-1"
    assert [e["nip"] for e in row.details["enrolments"]] == [f"1990{later.id:04d}{1:010d}"]
    assert row.details["proctors"] == ["s-02-proctor1"] and row.details["room"] == "Lab 1"


def test_a_session_with_an_attempt_is_not_deleted(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    Participant(app, *world.participants[0]).begin(world.token)
    token = csrf_token(admin.get(f"/proctor/sessions/{world.id}/edit").get_data(as_text=True))
    response = admin.post(
        f"/proctor/sessions/{world.id}/delete", data={"csrf_token": token, "confirm": "S-01"}
    )
    assert "1 peserta sudah mulai mengerjakan" in _flashes(admin, response)
    assert _session(app, "S-01") is not None
    assert _count(app, Enrolment, session_id=world.id) == 2
    assert _audits(app, "session.delete") == []


def test_a_started_session_nobody_came_to_is_deleted_with_a_reason(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    path = f"/proctor/sessions/{world.id}/delete"
    token = csrf_token(admin.get(f"/proctor/sessions/{world.id}/edit").get_data(as_text=True))
    refused = admin.post(path, data={"csrf_token": token, "confirm": "S-01"})
    assert "Tuliskan alasan menghapus sesi yang sudah dimulai." in _flashes(admin, refused)
    assert _session(app, "S-01") is not None
    deleted = admin.post(
        path, data={"csrf_token": token, "confirm": "S-01", "reason": "Ujian dibatalkan panitia"}
    )
    assert "Sesi S-01 dihapus." in _flashes(admin, deleted)
    (row,) = _audits(app, "session.delete")
    assert row.reason == "Ujian dibatalkan panitia" and len(row.details["enrolments"]) == 2


# ---- copying ---------------------------------------------------------------------------------


def test_a_copy_on_the_next_day_has_the_roster_with_new_cards(app: Flask, world, admin, clock):  # type: ignore[no-untyped-def]
    _import(admin, world.id)
    old_cards = _cards(admin, world.id)
    path = f"/proctor/sessions/{world.id}/copy"
    form = admin.get(path).get_data(as_text=True)
    # Suggested: the next free code, the next day, the same times.
    suggested = _form_values(form)
    assert (suggested["code"], suggested["day"]) == ("S-02", "2026-11-24")
    assert (suggested["starts"], suggested["ends"]) == ("14:55", "18:55")
    response = _post_form(admin, path, code="S-01-B")
    assert "disalin menjadi S-01-B" in _flashes(admin, response)
    copy = _session(app, "S-01-B")
    assert copy.starts_at - _session(app, "S-01").starts_at == timedelta(days=1)
    assert (copy.room, copy.battery_version_id) == (
        "Lab 1",
        _session(app, "S-01").battery_version_id,
    )
    assert _count(app, Enrolment, session_id=copy.id) == 5  # the builder's two and the file's three
    with app.app_context():
        assert db.session.get(SessionProctor, (copy.id, _user_id(app, world.proctors[0][0])))
    (row,) = [r for r in _audits(app, "session.create") if r.target == "S-01-B"]
    assert row.details["copied_from"] == "S-01" and row.details["enrolments"] == 5

    new_cards = _cards(admin, copy.id)
    assert len(new_cards) == 5 and all(n.startswith("S-01-B-") for n, _ in new_cards)
    clock.advance(days=1)  # 24-11 15:00: the copy is open, the source has ended
    token = _token(app, copy.id)
    siti_new = _card_of(app, new_cards, copy.id, SITI)
    assert Participant(app, *siti_new).begin(token)["state"] == "in_progress"
    # The first session's cards open only the first session: the copy's token is refused...
    old = Participant(app, *_card_of(app, old_cards, world.id, BUDI))
    assert old.login().status_code == 302
    entered = old.enter_token(token)
    assert not entered.headers.get("Location", "").endswith("/exam/confirm")
    # ...and Siti's old card does not even log in while her exam runs on another PC.
    siti_old = _card_of(app, old_cards, world.id, SITI)
    assert Participant(app, *siti_old).login().status_code == 409
    # ...and the copy's card does not open the first session.
    with app.app_context():
        first = db.session.scalar(
            select(Enrolment).where(Enrolment.participant_number == siti_old[0])
        )
        assert not first.check_password(siti_new[1])


def test_a_copy_refuses_a_code_in_use(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    response = _post_form(admin, f"/proctor/sessions/{world.id}/copy", code="s-01")
    assert response.status_code == 422
    assert "Kode sesi S-01 sudah dipakai." in response.get_data(as_text=True)
    assert _count(app, ExamSession) == 1


# ---- scheduling ------------------------------------------------------------------------------


def _schedule(client: FlaskClient, lines: str):  # type: ignore[no-untyped-def]
    page = client.get("/proctor/sessions/schedule").get_data(as_text=True)
    return client.post(
        "/proctor/sessions/schedule",
        data={
            "csrf_token": csrf_token(page),
            "name": "Uji Kompetensi Gelombang 2",
            "battery": next(v for k, v in _options(page, "battery").items() if "BAT-UJI" in k),
            "room": "Lab 2",
            "proctors": [_options(page, "proctors")["Pengawas Bougenvil"]],
            "rotate": "10",
            "lines": lines,
        },
    )


def test_a_schedule_with_a_bad_line_creates_nothing_and_says_where(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    response = _schedule(
        admin,
        "TKD-01, 2026-11-24, 08:00, 10:00\n"
        "TKD-02, 31-02-2026, 08:00, 10:00\n"
        "tkd-01; 25/11/2026; 8.00; 25:00\n"
        "\n"
        "S-01, 2026-11-26, 08:00, 10:00\n"
        "TKD-05, 2026-11-27\n",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "tidak ada sesi yang dibuat" in page
    assert [
        (line, field) for line, field, _message in problems_table(page, "schedule-problems")
    ] == [
        ("2", "Tanggal"),
        ("3", "Kode"),
        ("3", "Selesai"),
        ("5", "Kode"),
        ("6", "—"),
    ]
    messages = [m for _l, _f, m in problems_table(page, "schedule-problems")]
    assert "kode TKD-01 ganda (baris 1)" in messages
    assert "kode sesi S-01 sudah dipakai" in messages
    assert _count(app, ExamSession) == 1
    assert _audits(app, "session.create") == []


def test_a_schedule_creates_every_session(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    response = _schedule(
        admin,
        "TKD-01, 2026-11-24, 08:00, 10:00\n"
        "TKD-02; 24-11-2026; 10.30; 12.30\n"
        "MLM-01\t2026-11-24\t20:00\t06:00\n",
    )
    page = _flashes(admin, response)
    assert "3 sesi dibuat: TKD-01, TKD-02, MLM-01." in page
    night = _session(app, "MLM-01")
    assert (night.starts_at, night.ends_at) == (
        _wib("2026-11-24", "20:00"),
        _wib("2026-11-25", "06:00"),
    )
    assert _session(app, "TKD-02").starts_at == _wib("2026-11-24", "10:30")
    for code in ("TKD-01", "TKD-02", "MLM-01"):
        found = _session(app, code)
        assert (found.room, found.name, found.token_rotate_minutes) == (
            "Lab 2",
            "Uji Kompetensi Gelombang 2",
            10,
        )
        with app.app_context():
            assert db.session.get(SessionProctor, (found.id, _user_id(app, "pengawas-b")))
    rows = _audits(app, "session.create")
    assert [(r.target, r.details["scheduled_line"]) for r in rows] == [
        ("TKD-01", 1),
        ("TKD-02", 2),
        ("MLM-01", 3),
    ]


# ---- moving and removing participants ----------------------------------------------------------


def _participant_action(client: FlaskClient, lab: LabSession, action: str, **data: object):  # type: ignore[no-untyped-def]
    page = client.get(f"/proctor/sessions/{lab.id}").get_data(as_text=True)
    response = client.post(
        f"/proctor/sessions/{lab.id}/participants/{action}",
        data={"csrf_token": csrf_token(page), **data},
    )
    return _flashes(client, response)


def test_a_participant_who_has_not_started_moves_to_another_session(app: Flask, world, admin):  # type: ignore[no-untyped-def]
    later = _later(app, world)
    enrolments = _enrolment_ids(app, world.id)
    first, second = (enrolments[u] for u, _p in world.participants)
    Participant(app, *world.participants[1]).begin(world.token)
    page = admin.get(f"/proctor/sessions/{world.id}").get_data(as_text=True)
    assert "S-02 — Sesi S-02" in page  # the target is offered
    # Only who has not started may move: participant 1, not participant 2.
    assert _options(page, "enrolment") == {"— — Peserta 1": str(first)}
    no_reason = _participant_action(admin, world, "move", enrolment=first, target=later.id)
    assert "Tuliskan alasan memindahkan peserta." in no_reason
    started = _participant_action(
        admin, world, "move", enrolment=second, target=later.id, reason="sakit"
    )
    assert "sudah mulai mengerjakan" in started
    moved = _participant_action(
        admin, world, "move", enrolment=first, target=later.id, reason="Dinas luar kota"
    )
    assert "Peserta dipindahkan; nomor peserta barunya S-02-002" in moved
    with app.app_context():
        enrolment = db.session.get(Enrolment, first)
        assert (enrolment.session_id, enrolment.password_hash) == (later.id, None)
    (row,) = _audits(app, "session.participant_move")
    assert (row.target, row.reason, row.details["to"]) == ("S-01", "Dinas luar kota", "S-02")
    assert row.details["new_number"] == "S-02-002"
    # Already on the target: refused.
    with app.app_context(), write_transaction():
        user_id = db.session.get(Enrolment, first).user_id
        db.session.add(
            Enrolment(session_id=world.id, user_id=user_id, participant_number="S-01-009")
        )
    again = _enrolment_ids(app, world.id)[world.participants[0][0]]
    twice = _participant_action(
        admin, world, "move", enrolment=again, target=later.id, reason="salah"
    )
    assert "sudah terdaftar di sesi S-02" in twice
    assert len(_audits(app, "session.participant_move")) == 1


def test_a_move_goes_only_to_a_session_not_ended_of_the_same_kind(app: Flask, world, admin, clock):  # type: ignore[no-untyped-def]
    ended = make_session(app, participants=0, code="S-LALU", opens_in_minutes=-600, hours=1)
    other_kind = make_session(app, participants=0, code="S-MGR", opens_in_minutes=60)
    with app.app_context(), write_transaction():
        battery = db.session.scalar(select(BatteryVersion))
        managerial = BatteryVersion(
            code="BAT-MGR",
            version_label="1",
            title="Manajerial",
            kind="managerial",
            content_hash="x" * 64,
            definition=battery.definition,
            source_path="-",
            imported_at=battery.imported_at,
        )
        db.session.add(managerial)
        db.session.flush()
        db.session.get(ExamSession, other_kind.id).battery_version_id = managerial.id
    first = _enrolment_ids(app, world.id)[world.participants[0][0]]
    for target in (ended, other_kind):
        refused = _participant_action(
            admin, world, "move", enrolment=first, target=target.id, reason="coba"
        )
        assert "Sesi tujuan tidak dapat dipilih" in refused
    assert _count(app, Enrolment, session_id=world.id) == 2


def test_an_absent_participant_is_removed_with_a_reason(app: Flask, world):  # type: ignore[no-untyped-def]
    proctor = _client(app, *world.proctors[0])  # any proctor of the session may
    enrolments = _enrolment_ids(app, world.id)
    first, second = (enrolments[u] for u, _p in world.participants)
    Participant(app, *world.participants[1]).begin(world.token)
    started = _participant_action(proctor, world, "remove", enrolment=second, reason="tidak hadir")
    assert "sudah mulai mengerjakan" in started
    removed = _participant_action(
        proctor, world, "remove", enrolment=first, reason="Mengundurkan diri"
    )
    assert "Peserta 1 dihapus dari sesi ini." in removed
    assert _count(app, Enrolment, session_id=world.id) == 1
    (row,) = _audits(app, "session.participant_remove")
    assert (row.target, row.reason, row.actor_label) == (
        "S-01",
        "Mengundurkan diri",
        world.proctors[0][0],
    )
    assert row.details["name"] == "Peserta 1"
    # The next participant imported gets a number nobody had.
    _import(proctor, world.id, "NIP;Nama;Jabatan;Unit\n199505052020121004;Wayan;JF-UJ;Tim III\n")
    with app.app_context():
        numbers = db.session.scalars(
            select(Enrolment.participant_number).where(Enrolment.session_id == world.id)
        ).all()
    assert len(set(numbers)) == 2


# ---- who may ---------------------------------------------------------------------------------


NEW_ROUTES = [
    ("GET", "/proctor/sessions/{id}/edit"),
    ("POST", "/proctor/sessions/{id}/edit"),
    ("POST", "/proctor/sessions/{id}/delete"),
    ("GET", "/proctor/sessions/{id}/copy"),
    ("POST", "/proctor/sessions/{id}/copy"),
    ("POST", "/proctor/sessions/{id}/participants/move"),
    ("POST", "/proctor/sessions/{id}/participants/remove"),
]


@pytest.mark.parametrize("who", ["pengawas-a", "pengawas-b"])
def test_a_proctor_not_on_the_session_reaches_none_of_it(app: Flask, world, who: str):  # type: ignore[no-untyped-def]
    client = _client(app, who)
    token = csrf_token(client.get("/home").get_data(as_text=True))
    first = _enrolment_ids(app, world.id)[world.participants[0][0]]
    data = {
        "csrf_token": token,
        "confirm": "S-01",
        "enrolment": first,
        "reason": "coba",
        "code": "X-1",
    }
    for method, path in NEW_ROUTES:
        url = path.format(id=world.id)
        response = client.get(url) if method == "GET" else client.post(url, data=data)
        assert response.status_code in (403, 404), (who, method, url, response.status_code)
    if who == "pengawas-b":  # without the right to create sessions
        assert client.get("/proctor/sessions/schedule").status_code == 403
    assert _session(app, "S-01") is not None and _count(app, Enrolment, session_id=world.id) == 2
    assert _count(app, AuditEntry, action="session.participant_remove") == 0


def test_a_proctor_moves_only_to_a_session_they_are_on(app: Flask, world):  # type: ignore[no-untyped-def]
    other = _later(app, world)  # not this proctor's
    proctor = _client(app, *world.proctors[0])
    first = _enrolment_ids(app, world.id)[world.participants[0][0]]
    assert "S-02 — Sesi S-02" not in proctor.get(f"/proctor/sessions/{world.id}").get_data(
        as_text=True
    )
    refused = _participant_action(
        proctor, world, "move", enrolment=first, target=other.id, reason="coba"
    )
    assert "Sesi tujuan tidak dapat dipilih" in refused
    with app.app_context():
        assert db.session.get(Enrolment, first).session_id == world.id
