"""Logins, logouts and failed logins leave audit rows (never the password), each written in the
login's own write transaction."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import event, select

from cbt_server.models import AuditEntry, db
from tests.builders import Participant
from tests.helpers import csrf_token, login


def _rows(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def _as_text(row: AuditEntry) -> str:
    return json.dumps(
        [row.actor_label, row.action, row.target, row.reason, row.details], ensure_ascii=False
    )


def _write_transactions(app: Flask):  # type: ignore[no-untyped-def]
    """Count the committed transactions that wrote something (on SQLite and PostgreSQL alike)."""
    seen: list[str] = []
    writing: list[str] = []

    def statement(_conn, _cursor, sql, _params, _context, _many):  # type: ignore[no-untyped-def]
        if sql.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writing.append(sql)

    def commit(_conn):  # type: ignore[no-untyped-def]
        if writing:
            seen.append(writing[0])
            writing.clear()

    def rollback(_conn):  # type: ignore[no-untyped-def]
        writing.clear()

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)

    def remove() -> None:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
        event.remove(engine, "rollback", rollback)

    return remove, seen


def test_a_staff_login_and_logout_are_audited(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    stop, begins = _write_transactions(app)
    try:
        assert login(client, "asesor-1", "sandi-asesor").status_code == 302
    finally:
        stop()
    assert len(begins) == 1  # the login record and its audit row: one write transaction
    (row,) = _rows(app, "login")
    assert row.actor_label == "asesor-1" and row.actor_id is not None
    assert row.details["address"] == "127.0.0.1" and row.details["role"] == "assessor"

    token = csrf_token(client.get("/home").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    (out,) = _rows(app, "logout")
    assert out.actor_label == "asesor-1" and out.details["address"] == "127.0.0.1"


def test_a_participant_login_is_audited_with_its_enrolment(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    assert person.login().status_code == 302
    (row,) = _rows(app, "login")
    assert row.actor_label == lab.participants[0][0]
    assert row.details["role"] == "participant"


def test_failed_logins_are_audited_without_the_password(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    stop, begins = _write_transactions(app)
    try:
        assert login(client, "asesor-1", "rahasia-salah-1").status_code == 401
    finally:
        stop()
    assert len(begins) == 1  # the budgets and the audit row: one write transaction
    assert login(client, "tidak-ada", "rahasia-salah-2").status_code == 401
    rows = _rows(app, "login.failed")
    assert [row.target for row in rows] == ["asesor-1", "tidak-ada"]
    assert all(row.details["address"] == "127.0.0.1" for row in rows)
    assert all(row.actor_id is None for row in rows)
    with app.app_context():
        everything = db.session.scalars(select(AuditEntry)).all()
        text = " ".join(_as_text(row) for row in everything)
    assert "rahasia-salah" not in text
    assert not _rows(app, "login")
