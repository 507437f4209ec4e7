"""Staff accounts through the browser's pages: an admin creates, edits, deactivates, resets and
imports accounts and limits assessors; everyone changes their own password (docs/accounts.md)."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from cbt_server.models import AssessorScope, AuditEntry, User, db
from tests.builders import RIGHT, csv_bytes, finish, xlsx_bytes
from tests.helpers import audit_count, csrf_token, login, problems_table

ADMIN = ("admin-1", "sandi-admin-panjang")
ONE_TIME = re.compile(r'data-testid="one-time-password">([^<]+)<')


@pytest.fixture
def admin(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    """The lab of tests/builders.py with an admin logged in."""
    with app.app_context(), write_transaction():
        create_user(*ADMIN[:2], "admin", "Admin Satu")
    client = app.test_client()
    assert login(client, *ADMIN).status_code == 302
    return client


def _user(app: Flask, username: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        db.session.expunge(user)
        return user


def _token(client: FlaskClient) -> str:
    """The login's CSRF token (any page has it: the logout form)."""
    return csrf_token(client.get("/home").get_data(as_text=True))


def _create(client: FlaskClient, username: str, role: str, **extra: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": _token(client), "username": username, "full_name": f"Nama {username}"}
    return client.post("/admin/staff/", data={**data, "role": role, **extra})


def _one_time(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.headers["Cache-Control"] == "no-store"
    return ONE_TIME.findall(response.get_data(as_text=True))


def _post(client: FlaskClient, path: str, **data: object):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": _token(client), **data})


def _last_audit(app: Flask, action: str) -> AuditEntry:
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc())
        )
        assert entry is not None, f"no {action} audit row"
        db.session.expunge(entry)
        return entry


def _change_password(client: FlaskClient, current: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    data = {"csrf_token": token, "current": current, "new": new, "again": again or new}
    return client.post("/account/password", data=data)


def test_admin_creates_a_proctor_and_an_assessor(app: Flask, admin: FlaskClient) -> None:
    response = _create(admin, "Pengawas.Baru", "proctor", can_create_sessions="y")
    [password] = _one_time(response)
    assert "pengawas.baru" in response.get_data(as_text=True)
    [assessor_password] = _one_time(_create(admin, "asesor-baru", "assessor"))
    proctor = _user(app, "pengawas.baru")
    assert proctor.role == "proctor" and proctor.can_create_sessions and proctor.active
    assert proctor.must_change_password and password not in proctor.password_hash
    assert _user(app, "asesor-baru").role == "assessor"
    listing = admin.get("/admin/staff/").get_data(as_text=True)
    assert 'data-username="pengawas.baru"' in listing and 'data-username="asesor-baru"' in listing
    assert password not in listing and assessor_password not in listing  # shown once only
    entry = _last_audit(app, "staff.create")
    assert entry.target == "asesor-baru" and entry.actor_label == ADMIN[0]
    assert entry.details == {"role": "assessor", "can_create_sessions": False}


def test_bad_account_details_are_refused_and_change_nothing(app: Flask, admin) -> None:  # type: ignore[no-untyped-def]
    before = audit_count(app, "staff.create")
    for username, role, says in (
        ("1abc", "proctor", "tidak sah"),
        ("asesor-1", "assessor", "sudah dipakai"),
        ("orang-baru", "participant", "Not a valid choice"),
    ):
        response = _create(admin, username, role)
        page = response.get_data(as_text=True)
        if role == "participant":
            assert response.status_code == 400  # not a choice of the form
            continue
        assert response.status_code == 422 and says in page, page
    assert audit_count(app, "staff.create") == before
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.username == "1abc")) is None


def test_password_reset_is_shown_once_and_forces_a_change(app: Flask, admin, lab) -> None:  # type: ignore[no-untyped-def]
    username, old_password = lab.proctors[0]
    proctor = app.test_client()
    assert login(proctor, username, old_password).status_code == 302
    user = _user(app, username)
    [password] = _one_time(_post(admin, f"/admin/staff/{user.id}/password"))
    assert password not in admin.get(f"/admin/staff/{user.id}").get_data(as_text=True)
    assert _last_audit(app, "staff.password_reset").target == username
    # The reset ended the proctor's login, and the old password no longer opens one.
    assert "/login" in proctor.get("/proctor/").headers["Location"]
    assert login(app.test_client(), username, old_password).status_code == 401
    fresh = app.test_client()
    assert login(fresh, username, password).status_code == 302
    for page in ("/home", "/proctor/", f"/proctor/sessions/{lab.id}"):
        response = fresh.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"].endswith("/account/password"), page
    forced = fresh.get("/account/password").get_data(as_text=True)
    assert 'data-testid="must-change"' in forced
    assert _change_password(fresh, password, "Pengawas-Lab-2026").status_code == 302
    assert fresh.get("/proctor/").status_code == 200
    assert not _user(app, username).must_change_password


def test_own_password_change(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, "asesor-1", "sandi-asesor").status_code == 302
    for current, new, again, says in (
        ("salah-sekali", "Sandi-Baru-Asesor-9", None, "Kata sandi saat ini salah"),
        ("sandi-asesor", "pendek", None, "paling sedikit 10 karakter"),
        ("sandi-asesor", "asesor-1-x", "asesor-1-y", "tidak sama"),
        ("sandi-asesor", "Password123", None, "terlalu umum"),
    ):
        response = _change_password(client, current, new, again)
        assert response.status_code == 422 and says in response.get_data(as_text=True), says
    assert audit_count(app, "account.password_change") == 0
    assert _change_password(client, "sandi-asesor", "Sandi-Baru-Asesor-9").status_code == 302
    assert _last_audit(app, "account.password_change").target == "asesor-1"
    assert client.get("/assessor/").status_code == 200  # this login lives on
    assert login(app.test_client(), "asesor-1", "sandi-asesor").status_code == 401
    assert login(app.test_client(), "asesor-1", "Sandi-Baru-Asesor-9").status_code == 302


def test_the_password_may_not_be_the_user_name(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), write_transaction():
        create_user("pengawas-lab", "sandi-lama-panjang", "proctor", "Pengawas Lab")
    client = app.test_client()
    assert login(client, "pengawas-lab", "sandi-lama-panjang").status_code == 302
    response = _change_password(client, "sandi-lama-panjang", "Pengawas-Lab")
    assert response.status_code == 422
    assert "tidak boleh sama dengan nama pengguna" in response.get_data(as_text=True)


def test_participants_have_no_password_page(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.participants[0]).status_code == 302
    assert client.get("/account/password").status_code == 403


def test_a_deactivated_account_cannot_log_in_and_its_login_ends(app: Flask, admin, lab) -> None:  # type: ignore[no-untyped-def]
    username, password = lab.proctors[0]
    proctor = app.test_client()
    assert login(proctor, username, password).status_code == 302
    assert proctor.get("/proctor/").status_code == 200
    user = _user(app, username)
    response = _post(admin, f"/admin/staff/{user.id}/deactivate")
    assert response.status_code == 303
    assert _last_audit(app, "staff.deactivate").target == username
    ended = proctor.get("/proctor/")
    assert ended.status_code == 302 and "/login" in ended.headers["Location"]
    assert login(app.test_client(), username, password).status_code == 401
    again = _post(admin, f"/admin/staff/{user.id}/deactivate")
    assert again.status_code == 422 and "sudah nonaktif" in again.get_data(as_text=True)
    assert _post(admin, f"/admin/staff/{user.id}/reactivate").status_code == 303
    assert _last_audit(app, "staff.reactivate").target == username
    assert login(app.test_client(), username, password).status_code == 302


def test_an_account_deactivated_elsewhere_loses_its_login(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    """Even a deactivation that revoked nothing (straight in the database) ends the login."""
    client = app.test_client()
    assert login(client, "asesor-1", "sandi-asesor").status_code == 302
    with app.app_context(), write_transaction():
        db.session.scalar(select(User).where(User.username == "asesor-1")).active = False
    assert "/login" in client.get("/assessor/").headers["Location"]


def test_an_admin_keeps_their_own_admin_rights(app: Flask, admin) -> None:  # type: ignore[no-untyped-def]
    me = _user(app, ADMIN[0])
    refused = _post(admin, f"/admin/staff/{me.id}/deactivate")
    assert refused.status_code == 422
    assert "tidak dapat menonaktifkan akun sendiri" in refused.get_data(as_text=True)
    demoted = _post(admin, f"/admin/staff/{me.id}", full_name="Admin Satu", role="assessor")
    assert demoted.status_code == 422
    me = _user(app, ADMIN[0])
    assert me.active and me.role == "admin"
    assert audit_count(app, "staff.deactivate") == audit_count(app, "staff.update") == 0


def test_an_admin_edits_an_account(app: Flask, admin, lab) -> None:  # type: ignore[no-untyped-def]
    proctor = _user(app, lab.proctors[0][0])
    response = _post(
        admin,
        f"/admin/staff/{proctor.id}",
        full_name="Rina Pengawas",
        role="proctor",
        can_create_sessions="y",
    )
    assert response.status_code == 303
    changed = _user(app, proctor.username)
    assert changed.full_name == "Rina Pengawas" and changed.can_create_sessions
    details = _last_audit(app, "staff.update").details
    assert details["full_name"] == {"before": "Pengawas 1", "after": "Rina Pengawas"}
    assert details["can_create_sessions"] == {"before": False, "after": True}
    assert admin.get("/admin/staff/999999").status_code == 404
    participant = _user(app, lab.participants[0][0])
    assert admin.get(f"/admin/staff/{participant.id}").status_code == 404  # not staff


def test_staff_import_is_all_or_nothing(app: Flask, admin) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ["Nama pengguna", "Nama", "Peran", "Lingkup unit"],
        ["pengawas-a", "Pengawas A", "pengawas", ""],
        ["asesor-a", "Asesor A", "asesor", "Unit Uji; Unit Lain"],
        ["asesor-a", "Asesor Ganda", "asesor", ""],
        ["admin-b", "Admin B", "kepala", ""],
        ["pengawas-b", "", "pengawas", "Unit Uji"],
    ]
    response = _import(admin, "staf.csv", csv_bytes(rows))
    assert response.status_code == 422
    problems = problems_table(response.get_data(as_text=True), "staff-problems")
    assert ("4", "Nama pengguna", "nama pengguna asesor-a sudah dipakai (baris 3)") in problems
    assert any(p[:2] == ("5", "Peran") and "kepala" in p[2] for p in problems)
    assert ("6", "Nama", "nama kosong") in problems
    assert ("6", "Lingkup unit", "lingkup unit hanya untuk asesor") in problems
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.username == "pengawas-a")) is None
    assert audit_count(app, "staff.import") == 0

    good = [rows[0], rows[1], rows[2], ["admin-b", "Admin B", "admin", ""]]
    response = _import(admin, "staf.xlsx", xlsx_bytes(good))
    passwords = _one_time(response)
    assert len(passwords) == 3 and len(set(passwords)) == 3
    assessor = _user(app, "asesor-a")
    assert assessor.must_change_password and assessor.role == "assessor"
    with app.app_context():
        units = db.session.scalars(
            select(AssessorScope.unit).where(AssessorScope.user_id == assessor.id)
        ).all()
    assert sorted(units) == ["Unit Lain", "Unit Uji"]
    entry = _last_audit(app, "staff.import")
    assert entry.details["accounts"] == {
        "pengawas-a": "proctor",
        "asesor-a": "assessor",
        "admin-b": "admin",
    }
    assert login(app.test_client(), "admin-b", passwords[2]).status_code == 302


def test_an_unreadable_staff_file_says_why(admin) -> None:  # type: ignore[no-untyped-def]
    response = _import(admin, "staf.txt", b"username\n")
    assert response.status_code == 422
    [(row, column, message)] = problems_table(response.get_data(as_text=True), "staff-problems")
    assert "gunakan .csv atau .xlsx" in message


def _import(client: FlaskClient, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/staff/import",
        data={"csrf_token": _token(client), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _scope(app: Flask, admin: FlaskClient, units: str = "", sessions: tuple[int, ...] = ()) -> None:
    assessor = _user(app, "asesor-1")
    response = _post(
        admin,
        f"/admin/staff/{assessor.id}/scope",
        units=units,
        sessions=[str(s) for s in sessions],
    )
    assert response.status_code == 303, response.get_data(as_text=True)


def test_an_assessor_limited_to_a_unit_sees_only_its_people(
    app: Flask, admin, lab, assessor
) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), write_transaction():
        people = db.session.scalars(
            select(User).where(User.role == "participant").order_by(User.id)
        ).all()
        people[2].unit = "Unit Lain"
        nips = [p.nip for p in people]
        ids = [p.id for p in people]
    sheet = f"/assessor/sessions/{lab.id}/scores"
    assert all(nip in assessor.get(sheet).get_data(as_text=True) for nip in nips)

    _scope(app, admin, units="Unit Uji\n")
    assert _last_audit(app, "staff.scope").details["after"] == {
        "units": ["Unit Uji"],
        "sessions": [],
    }
    page = assessor.get(sheet).get_data(as_text=True)
    assert nips[0] in page and nips[1] in page and nips[2] not in page
    download = assessor.get(f"/assessor/sessions/{lab.id}/scores.csv", buffered=True)
    assert nips[2] not in download.get_data(as_text=True) and nips[0] in download.get_data(
        as_text=True
    )
    assert assessor.get(f"/assessor/people/{ids[0]}/profile").status_code == 200
    assert assessor.get(f"/assessor/people/{ids[2]}/profile").status_code == 404
    printed = assessor.get(f"/assessor/sessions/{lab.id}/profiles").get_data(as_text=True)
    assert nips[0] in printed and nips[2] not in printed
    desk = assessor.get("/assessor/").get_data(as_text=True)
    assert "Unit Uji" in desk and "Unit Lain" not in desk
    assert assessor.get("/assessor/group?unit=Unit+Lain").status_code == 404
    # Item analysis covers the people seen: its person table and its statistics.
    finish(app, lab, 0, RIGHT)
    finish(app, lab, 2, RIGHT)
    analysis = assessor.get("/assessor/batteries/BAT-UJI/analysis").get_data(as_text=True)
    assert nips[0] in analysis and nips[2] not in analysis
    listing = admin.get("/admin/staff/").get_data(as_text=True)
    assert "Unit Uji" in listing

    # Limited to another session only: this session's pages are not found.
    from tests.builders import make_session

    other = make_session(app, participants=1, code="S-02")
    _scope(app, admin, sessions=(other.id,))
    assert assessor.get(sheet).status_code == 404
    assert assessor.get(f"/assessor/people/{ids[0]}/profile").status_code == 404
    assert lab.code not in assessor.get("/assessor/").get_data(as_text=True)

    _scope(app, admin)  # no limits: everyone again
    assert all(nip in assessor.get(sheet).get_data(as_text=True) for nip in nips)


def test_a_limited_assessor_does_not_reach_the_lab_wide_pages(
    app: Flask, admin, lab, assessor
) -> None:  # type: ignore[no-untyped-def]
    lab_wide = (
        "/assessor/audit-log",
        "/assessor/audit-log.csv",
        "/assessor/integrity",
        "/assessor/imports",
        "/assessor/batteries/BAT-UJI/regrade",
    )
    assert all(assessor.get(path).status_code == 200 for path in lab_wide)
    assert 'data-testid="go-audit-log"' in assessor.get("/assessor/").get_data(as_text=True)
    _scope(app, admin, units="Unit Uji\n")
    for path in lab_wide:
        assert assessor.get(path).status_code == 403, path
    desk = assessor.get("/assessor/").get_data(as_text=True)
    assert 'data-testid="go-audit-log"' not in desk and 'data-testid="limited-reach"' in desk
    assert "/regrade" not in desk
    # the admin, who is never limited, still reaches them
    assert all(admin.get(path).status_code == 200 for path in lab_wide)


def test_only_assessors_are_limited(app: Flask, admin, lab) -> None:  # type: ignore[no-untyped-def]
    proctor = _user(app, lab.proctors[0][0])
    response = _post(admin, f"/admin/staff/{proctor.id}/scope", units="Unit Uji")
    assert response.status_code == 422
    assert "hanya untuk akun asesor" in response.get_data(as_text=True)
    assert audit_count(app, "staff.scope") == 0
