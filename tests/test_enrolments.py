"""A person sits several sessions: each enrolment has its own card, token and login
(docs/exam-credentials.md). One test per thing seen in a lab (issue 9)."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server.db import write_transaction
from cbt_server.models import AuditEntry, Enrolment, User, db
from tests.builders import LabSession, Participant, make_session
from tests.helpers import csrf_token, login

NIP = "198703152010012001"
HEADER = "NIP;Nama;Jabatan;Unit Kerja;Kursi\n"


@pytest.fixture
def two_rooms(app: Flask, fixture_banks) -> tuple[LabSession, LabSession]:  # type: ignore[no-untyped-def]
    """Two sessions open now in two rooms, each with its own proctor; B opened first."""
    room_a = make_session(app, participants=0, code="S-A", token="TOKNAA")
    room_b = make_session(app, participants=0, code="S-B", token="TOKNBB", opens_in_minutes=-30)
    return room_a, room_b


def _client(app: Flask, username: str, password: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username, password).status_code == 302
    return client


def _proctor(app: Flask, lab: LabSession) -> FlaskClient:
    return _client(app, *lab.proctors[0])


def _import(client: FlaskClient, lab: LabSession, rows: str):  # type: ignore[no-untyped-def]
    page = client.get(f"/proctor/sessions/{lab.id}").get_data(as_text=True)
    return client.post(
        f"/proctor/sessions/{lab.id}/roster",
        data={"csrf_token": csrf_token(page), "file": (io.BytesIO(rows.encode()), "p.csv")},
        content_type="multipart/form-data",
    )


def _print(client: FlaskClient, lab: LabSession, **fields: str) -> str:
    page = client.get(f"/proctor/sessions/{lab.id}").get_data(as_text=True)
    response = client.post(
        f"/proctor/sessions/{lab.id}/cards", data={"csrf_token": csrf_token(page), **fields}
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _cards(page: str) -> list[tuple[str, str]]:
    logins = re.findall(r'data-testid="card-login">([^<]+)<', page)
    passwords = re.findall(r'data-testid="card-password">([^<]+)<', page)
    return list(zip(logins, passwords, strict=True))


def _enrolment(app: Flask, lab: LabSession, username: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(Enrolment.id)
            .join(User, User.id == Enrolment.user_id)
            .where(Enrolment.session_id == lab.id, User.username == username)
        )


def _enrol(app: Flask, lab: LabSession, username: str) -> None:
    """Put an existing person on another session's roster (as an import would)."""
    with app.app_context(), write_transaction():
        user = db.session.scalar(select(User).where(User.username == username))
        db.session.add(Enrolment(session_id=lab.id, user_id=user.id, seat="PC-09"))


def _session_id_of_attempt(app: Flask, username: str) -> list[int]:
    from cbt_server.models import Attempt

    with app.app_context():
        return list(
            db.session.scalars(
                select(Attempt.session_id)
                .join(User, User.id == Attempt.user_id)
                .where(User.username == username)
            )
        )


# --------------------------------------------------- (2) a person in several sessions


def test_cards_of_one_session_never_invalidate_the_card_of_another(app: Flask, two_rooms):  # type: ignore[no-untyped-def]
    room_a, room_b = two_rooms
    row = f"{NIP};Siti Nurhaliza;JF-UJ;Tim Mutu I;PC-01\n"
    proctor_a, proctor_b = _proctor(app, room_a), _proctor(app, room_b)
    assert _import(proctor_a, room_a, HEADER + row).status_code == 302
    [card_a] = _cards(_print(proctor_a, room_a))
    assert _import(proctor_b, room_b, HEADER + row).status_code in (200, 302)
    [card_b] = _cards(_print(proctor_b, room_b))
    assert card_a[0] != card_b[0]
    # Both cards open the exam, each for its own session.
    assert login(app.test_client(), *card_a).status_code == 302
    assert login(app.test_client(), *card_b).status_code == 302
    person = Participant(app, *card_a)
    assert person.login().status_code == 302
    refused = person.enter_token(room_b.token)  # card A is for room A only
    assert refused.status_code == 403
    assert person.enter_token(room_a.token).headers["Location"].endswith("/exam/confirm")


def test_with_two_sessions_open_either_token_reaches_its_session(app: Flask, two_rooms):  # type: ignore[no-untyped-def]
    room_a, room_b = two_rooms
    home = make_session(app, participants=1, code="S-C", token="TOKNCC", opens_in_minutes=-60)
    username, password = home.participants[0]
    _enrol(app, room_a, username)
    _enrol(app, room_b, username)
    # Session C opened earliest; the person is in room A and types room A's token.
    person = Participant(app, username, password)
    assert person.login().status_code == 302
    page = person.client.get("/exam/").get_data(as_text=True)
    listed = re.search(r'data-testid="open-sessions".*?</ul>', page, re.S)
    assert listed and all(f"({code})" in listed[0] for code in ("S-A", "S-B", "S-C"))
    entered = person.enter_token(room_a.token)
    assert entered.status_code == 302, entered.get_data(as_text=True)
    assert entered.headers["Location"].endswith("/exam/confirm")
    assert room_a.code in person.client.get("/exam/confirm").get_data(as_text=True)
    assert person.start().status_code == 302
    assert _session_id_of_attempt(app, username) == [room_a.id]


def test_a_card_login_reaches_its_own_session_while_an_earlier_one_is_open(app: Flask, two_rooms):  # type: ignore[no-untyped-def]
    room_a, room_b = two_rooms
    row = f"{NIP};Siti Nurhaliza;JF-UJ;Tim Mutu I;PC-01\n"
    proctor_a, proctor_b = _proctor(app, room_a), _proctor(app, room_b)
    assert _import(proctor_b, room_b, HEADER + row).status_code == 302
    assert _import(proctor_a, room_a, HEADER + row).status_code in (200, 302)
    [card_a] = _cards(_print(proctor_a, room_a))
    person = Participant(app, *card_a)
    assert person.login().status_code == 302
    assert room_a.code in person.client.get("/exam/").get_data(as_text=True)
    entered = person.enter_token(room_a.token)  # not "Token salah": room B opened first
    assert entered.status_code == 302 and entered.headers["Location"].endswith("/exam/confirm")


def test_print_all_never_resets_a_card_in_use_and_one_card_is_reprinted(app: Flask, two_rooms):  # type: ignore[no-untyped-def]
    room_a, _room_b = two_rooms
    rows = "".join(
        f"{1990_0101_2020_0100_00 + n};Peserta {n};JF-UJ;Unit;PC-{n:02d}\n" for n in range(1, 4)
    )
    proctor = _proctor(app, room_a)
    assert _import(proctor, room_a, HEADER + rows).status_code == 302
    first = _cards(_print(proctor, room_a))
    assert len(first) == 3
    started = Participant(app, *first[0])
    started.begin(room_a.token)
    # A late registration: "print all" makes a card for the newcomer only.
    late = f"{1990_0101_2020_0100_00 + 9};Peserta Terlambat;JF-UJ;Unit;PC-09\n"
    assert _import(proctor, room_a, HEADER + late).status_code == 302
    again = _print(proctor, room_a)
    assert [c[0] for c in _cards(again)] == ["S-A-004"]
    assert 'data-testid="cards-skipped"' in again and "S-A-001" in again
    for card in first[1:]:
        assert login(app.test_client(), *card).status_code == 302
    assert started.attempt()["state"] == "in_progress"  # the running exam kept its login
    # One lost card: the session page offers a reprint; it needs a reason.
    page = proctor.get(f"/proctor/sessions/{room_a.id}").get_data(as_text=True)
    assert 'data-testid="reprint-card"' in page
    lost = str(_enrolment(app, room_a, f"p{1990_0101_2020_0100_00 + 2}"))
    refused = proctor.post(
        f"/proctor/sessions/{room_a.id}/cards",
        data={"csrf_token": csrf_token(page), "enrolment_ids": lost},
    )
    assert refused.status_code == 303
    [card] = _cards(_print(proctor, room_a, enrolment_ids=lost, reason="kartu hilang"))
    assert card[0] == first[1][0] and card[1] != first[1][1]
    assert login(app.test_client(), *first[1]).status_code == 401
    assert login(app.test_client(), *card).status_code == 302
    assert login(app.test_client(), *first[2]).status_code == 302
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "session.credentials")
            .order_by(AuditEntry.id.desc())
        ).first()
        assert entry.reason == "kartu hilang" and entry.details["participants"] == [card[0]]
    # After a new secret key: every card renewed, with a reason, except for those who started.
    renewed = _cards(_print(proctor, room_a, renew="1", reason="kunci rahasia baru"))
    assert [c[0] for c in renewed] == ["S-A-002", "S-A-003", "S-A-004"]
    assert login(app.test_client(), *renewed[0]).status_code == 302
    assert login(app.test_client(), *card).status_code == 401


# --------------------------------------------------- (3) one proctor, another session's people


def test_a_roster_import_never_overwrites_a_known_person(app: Flask, two_rooms):  # type: ignore[no-untyped-def]
    room_a, room_b = two_rooms
    proctor_a, proctor_b = _proctor(app, room_a), _proctor(app, room_b)
    rows = HEADER + f"{NIP};Siti Nurhaliza;JF-UJ;Tim Mutu I;\n"
    assert _import(proctor_a, room_a, rows).status_code == 302
    response = _import(proctor_b, room_b, HEADER + f"{NIP};Siti Palsu;JF-UJ;Unit Lain;\n")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-testid="roster-notices"' in page and "Siti Palsu" in page
    with app.app_context():
        user = db.session.scalar(select(User).where(User.nip == NIP))
        assert (user.full_name, user.unit) == ("Siti Nurhaliza", "Tim Mutu I")
        assert db.session.scalar(
            select(Enrolment.id).where(
                Enrolment.session_id == room_b.id, Enrolment.user_id == user.id
            )
        )
        entry = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "session.roster_import")
            .order_by(AuditEntry.id.desc())
        ).first()
        assert entry.actor_label == room_b.proctors[0][0]
        assert entry.details["identity_differs"] == [NIP]


def test_an_admin_changes_identity_with_an_audited_reason(app: Flask, two_rooms, runner):  # type: ignore[no-untyped-def]
    room_a, _room_b = two_rooms
    proctor_a = _proctor(app, room_a)
    rows = HEADER + f"{NIP};Siti Nurhaliza;JF-UJ;Tim Mutu I;\n"
    assert _import(proctor_a, room_a, rows).status_code == 302
    result = runner.invoke(
        args=["people", "identity", NIP, "--name", "Siti Nurhaliza, S.Pd.", "--reason", "SK mutasi"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(User.full_name).where(User.nip == NIP)) == (
            "Siti Nurhaliza, S.Pd."
        )
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "person.identity"))
        assert entry.reason == "SK mutasi" and entry.target == NIP
        assert entry.details["full_name"]["before"] == "Siti Nurhaliza"


def test_a_participant_mid_exam_stays_in_their_exam_when_another_session_enrols_them(
    app: Flask, two_rooms
):  # type: ignore[no-untyped-def]
    room_a, room_b = two_rooms
    taking = make_session(app, participants=1, code="S-D", token="TOKNDD", opens_in_minutes=-5)
    person = Participant(app, *taking.participants[0])
    person.begin(taking.token)
    _enrol(app, room_b, person.username)  # room B opened earlier, and is open now
    page = person.client.get("/exam/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/exam/take")
    assert person.client.get("/exam/take").status_code == 200
    assert person.attempt()["state"] == "in_progress"


def test_a_reset_login_in_one_session_never_ends_the_exam_login_of_another(app: Flask, two_rooms):  # type: ignore[no-untyped-def]
    room_a, room_b = two_rooms
    taking = make_session(app, participants=1, code="S-E", token="TOKNEE", opens_in_minutes=-5)
    person = Participant(app, *taking.participants[0])
    person.begin(taking.token)
    _enrol(app, room_b, person.username)
    proctor_b = _proctor(app, room_b)
    page = proctor_b.get(f"/proctor/sessions/{room_b.id}").get_data(as_text=True)
    reset = proctor_b.post(
        f"/proctor/sessions/{room_b.id}/act/reset_login",
        data={
            "csrf_token": csrf_token(page),
            "enrolment_ids": str(_enrolment(app, room_b, person.username)),
            "reason": "pindah komputer",
        },
        headers={"Accept": "application/json"},
    )
    assert reset.status_code == 200
    assert person.client.get("/api/v1/attempt").status_code == 200  # still logged in
    assert person.save(0, [0], 1).status_code == 200
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "attempt.reset_login")
            .order_by(AuditEntry.id.desc())
        ).first()
        assert entry.target == room_b.code


def test_a_reset_login_ends_the_login_of_that_sessions_enrolment(app: Flask, two_rooms):  # type: ignore[no-untyped-def]
    room_a, _room_b = two_rooms
    rows = f"{NIP};Siti Nurhaliza;JF-UJ;Tim Mutu I;PC-01\n"
    proctor = _proctor(app, room_a)
    assert _import(proctor, room_a, HEADER + rows).status_code == 302
    [card] = _cards(_print(proctor, room_a))
    person = Participant(app, *card)
    person.begin(room_a.token)
    page = proctor.get(f"/proctor/sessions/{room_a.id}").get_data(as_text=True)
    enrolment = str(_enrolment(app, room_a, f"p{NIP}"))
    reset = proctor.post(
        f"/proctor/sessions/{room_a.id}/act/reset_login",
        data={"csrf_token": csrf_token(page), "enrolment_ids": enrolment, "reason": "ganti PC"},
        headers={"Accept": "application/json"},
    )
    assert reset.status_code == 200
    assert person.client.get("/api/v1/attempt").status_code == 401


def test_a_nip_login_with_a_card_password_belongs_to_that_cards_session(app: Flask, two_rooms):  # type: ignore[no-untyped-def]
    room_a, room_b = two_rooms
    row = f"{NIP};Siti Nurhaliza;JF-UJ;Tim Mutu I;PC-01\n"
    proctor_a, proctor_b = _proctor(app, room_a), _proctor(app, room_b)
    assert _import(proctor_a, room_a, HEADER + row).status_code == 302
    assert _import(proctor_b, room_b, HEADER + row).status_code == 302
    [(_number, password)] = _cards(_print(proctor_a, room_a))
    person = Participant(app, NIP, password)
    assert person.login().status_code == 302
    assert person.enter_token(room_b.token).status_code == 403
    assert person.enter_token(room_a.token).status_code == 302


# --------------------------------------------------- the upgrade keeps printed cards working


def test_the_upgrade_copies_the_last_card_into_each_enrolment(tmp_path):  # type: ignore[no-untyped-def]
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from cbt_server import create_app
    from cbt_server.accounts.passwords import hash_password
    from cbt_server.accounts.service import authenticate

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite3'}",
            "INSTANCE_PATH": tmp_path,
            "SECRET_KEY": "test-secret",
        }
    )
    at = "2026-11-30 01:00:00"
    with app.app_context():
        upgrade(revision="0003")
        hashed = hash_password("k4r7u-xy", "participant")
        statements = [
            "INSERT INTO battery_versions VALUES (1, 'B', 'v1', 'B', 'technical', 'h', '{}', "
            "'b.yaml', :at)",
            "INSERT INTO users VALUES (1, 'p1', :hash, 'participant', 'Siti', :nip, NULL, NULL, "
            "1, 0, :at)",
            "INSERT INTO exam_sessions (id, code, name, battery_version_id, room, starts_at, "
            "ends_at, token_rotate_minutes, status, created_at) VALUES "
            "(1, 'S-1', 'S', 1, 'Lab', :at, :at, 15, 'scheduled', :at), "
            "(2, 'S-2', 'S', 1, 'Lab', :at, :at, 15, 'scheduled', :at)",
            "INSERT INTO enrolments (id, session_id, user_id, participant_number) "
            "VALUES (1, 1, 1, 'S-1-001'), (2, 2, 1, 'S-2-001')",
            "INSERT INTO audit_log (at, actor_label, action, target) "
            "VALUES (:at, 'cli', 'session.credentials', 'S-2')",
        ]
        with db.engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement), {"hash": hashed, "at": at, "nip": NIP})
        upgrade()
        rows = db.session.execute(
            select(Enrolment.participant_number, Enrolment.card_issued_at).order_by(Enrolment.id)
        ).all()
        assert [(number, issued is not None) for number, issued in rows] == [
            ("S-1-001", False),
            ("S-2-001", True),
        ]
        # The card printed last opens each enrolment; the person's own hash no longer does.
        assert authenticate("S-1-001", "k4r7u-xy") is not None
        assert authenticate("S-2-001", "k4r7u-xy") is not None
        assert db.session.scalar(select(User.password_hash)) == "!"
        db.session.remove()
        db.engine.dispose()
