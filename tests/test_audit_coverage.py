"""Every file staff take away and every view of personal results leaves an audit row saying who,
what, and which session or person (docs/tamper-evidence.md, "Audit coverage")."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server.models import AuditEntry, Enrolment, User, db
from tests.builders import RIGHT, finish
from tests.helpers import csrf_token, login


@pytest.fixture
def taken(app: Flask, lab):  # type: ignore[no-untyped-def]
    finish(app, lab, 0, {**RIGHT, "U-L1": "4", "U-L2": "2", "U-SD": "5"})
    finish(app, lab, 1, {"U-SGL": "A", "U-L1": "1"})
    return lab


@pytest.fixture
def proctor(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


def _last(app: Flask) -> AuditEntry | None:
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
        db.session.expunge_all()
        return entry


def _audited(app: Flask, client: FlaskClient, path: str, action: str, who: str) -> AuditEntry:
    before = _last(app)
    response = client.get(path, buffered=True)
    assert response.status_code == 200, (path, response.status_code)
    entry = _last(app)
    assert entry is not None and (before is None or entry.id > before.id), f"{path}: no audit row"
    assert entry.action == action, (path, entry.action)
    assert entry.actor_label == who and entry.actor_id is not None
    assert entry.chain_seq is not None and entry.row_hash  # chained like every other row
    return entry


def test_proctor_printouts_and_downloads_are_audited(app: Flask, taken, proctor) -> None:  # type: ignore[no-untyped-def]
    base = f"/proctor/sessions/{taken.id}"
    who = taken.proctors[0][0]
    for tail, action in (
        ("report", "report.view"),
        ("report.csv", "download.report.csv"),
        ("attendance", "attendance.view"),
        ("attendance.csv", "download.attendance.csv"),
    ):
        entry = _audited(app, proctor, f"{base}/{tail}", action, who)
        assert entry.target == taken.code
    assert len(entry.details or {}) == 0 or "digest" not in (entry.details or {})
    csv_row = _audited(app, proctor, f"{base}/report.csv", "download.report.csv", who)
    assert len(csv_row.details["digest"]) == 64  # which results it covered


def test_score_pages_and_sheets_are_audited(app: Flask, taken, assessor) -> None:  # type: ignore[no-untyped-def]
    session = f"/assessor/sessions/{taken.id}"
    battery = "/assessor/batteries/BAT-UJI"
    for path, action, target in (
        (f"{session}/scores", "scores.view", f"skor-sesi-{taken.code}"),
        (f"{session}/scores.csv", "download.scores.csv", f"skor-sesi-{taken.code}"),
        (f"{session}/scores.xlsx", "download.scores.xlsx", f"skor-sesi-{taken.code}"),
        (f"{battery}/scores", "scores.view", "skor-baterai-BAT-UJI"),
        (f"{battery}/scores.csv", "download.scores.csv", "skor-baterai-BAT-UJI"),
        (f"{battery}/scores.xlsx", "download.scores.xlsx", "skor-baterai-BAT-UJI"),
    ):
        entry = _audited(app, assessor, path, action, "asesor-1")
        assert entry.target == target
        assert len(entry.details["digest"]) == 64


def test_personal_result_views_are_audited(app: Flask, taken, assessor) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        person = db.session.scalar(select(User).where(User.username == taken.participants[0][0]))
        user_id, nip = person.id, person.nip
    entry = _audited(
        app, assessor, f"/assessor/people/{user_id}/profile", "profile.view", "asesor-1"
    )
    assert entry.target == nip and entry.details["user_id"] == user_id
    entry = _audited(
        app,
        assessor,
        f"/assessor/sessions/{taken.id}/profiles",
        "profile.print_all",
        "asesor-1",
    )
    assert entry.target == taken.code and user_id in entry.details["user_ids"]
    _audited(app, assessor, f"/assessor/sessions/{taken.id}/group", "group.view", "asesor-1")
    entry = _audited(
        app, assessor, "/assessor/batteries/BAT-UJI/analysis", "analysis.view", "asesor-1"
    )
    assert entry.target == "BAT-UJI"
    entry = _audited(
        app,
        assessor,
        f"/assessor/sessions/{taken.id}/late-answers",
        "late_answers.view",
        "asesor-1",
    )
    assert entry.target == taken.code


def test_item_analysis_downloads_are_audited(app: Flask, taken, assessor) -> None:  # type: ignore[no-untyped-def]
    base = "/assessor/batteries/BAT-UJI"
    for name, kind in (
        ("analysis", "items"),
        ("analysis-options", "options"),
        ("reliability", "reliability"),
        ("standard-scores", "standard_scores"),
    ):
        for ext in ("csv", "xlsx"):
            entry = _audited(
                app, assessor, f"{base}/{name}.{ext}", f"download.analysis.{kind}.{ext}", "asesor-1"
            )
            assert entry.details["battery"] == "BAT-UJI"


def test_the_credentials_row_names_whose_cards(app: Flask, lab, proctor) -> None:  # type: ignore[no-untyped-def]
    page = proctor.get(f"/proctor/sessions/{lab.id}").get_data(as_text=True)
    printed = proctor.post(
        f"/proctor/sessions/{lab.id}/cards", data={"csrf_token": csrf_token(page)}
    )
    assert printed.status_code == 200
    entry = _last(app)
    assert entry.action == "session.credentials" and entry.target == lab.code
    with app.app_context():
        enrolments = db.session.execute(
            select(Enrolment.id, Enrolment.participant_number).where(Enrolment.session_id == lab.id)
        ).all()
    assert sorted(entry.details["enrolment_ids"]) == sorted(e.id for e in enrolments)
    assert sorted(entry.details["participants"]) == sorted(e.participant_number for e in enrolments)
    assert entry.details["count"] == len(enrolments)


def test_a_view_audit_is_one_short_write(app: Flask, taken, assessor) -> None:  # type: ignore[no-untyped-def]
    """The audit row of a page view: the chain head's advance, the row, the new head; nothing
    else is written."""
    from tests.test_lean_requests import statements

    with statements(app) as sql:
        assert assessor.get(f"/assessor/sessions/{taken.id}/scores").status_code == 200
    writes = [s for s in sql if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert len(writes) == 3, writes
    assert sum(w.startswith("UPDATE chain_heads") for w in writes) == 2
    assert sum(w.startswith("INSERT INTO audit_log") for w in writes) == 1


#: every state-changing route of the staff pages, the audit action it writes and its form
STAFF_ACTIONS = {
    "staff.create": (
        "staff.create",
        {"username": "pengawas-audit", "full_name": "P", "role": "proctor"},
    ),
    "staff.update": ("staff.update", {"full_name": "Asesor Diubah", "role": "assessor"}),
    "staff.scope": ("staff.scope", {"units": "Unit Uji"}),
    "staff.deactivate": ("staff.deactivate", {}),
    "staff.reactivate": ("staff.reactivate", {}),
    "staff.reset_password": ("staff.password_reset", {}),
    "staff.import_file": ("staff.import", {}),
}


def test_every_staff_account_change_is_audited(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    import io

    from cbt_server.accounts.service import create_user
    from cbt_server.db import write_transaction
    from tests.builders import csv_bytes

    with app.app_context(), write_transaction():
        create_user("admin-audit", "sandi-admin-audit", "admin", "Admin Audit")
        assessor_id = db.session.scalar(select(User.id).where(User.username == "asesor-1"))
    client = app.test_client()
    assert login(client, "admin-audit", "sandi-admin-audit").status_code == 302
    token = csrf_token(client.get("/home").get_data(as_text=True))
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("staff.")]
    posts = {r.endpoint: r.rule for r in rules if "POST" in r.methods}
    assert set(posts) == set(STAFF_ACTIONS), "a new staff route: add it to STAFF_ACTIONS"
    staff_file = csv_bytes([["username", "nama", "peran"], ["asesor-audit", "A", "asesor"]])
    # deactivate before reactivate
    for endpoint in sorted(posts, key=lambda e: e != "staff.deactivate"):
        action, form = STAFF_ACTIONS[endpoint]
        data = {"csrf_token": token, **form}
        if endpoint == "staff.import_file":
            data["file"] = (io.BytesIO(staff_file), "staf.csv")
        path = posts[endpoint].replace("<int:user_id>", str(assessor_id))
        before = _last(app)
        response = client.post(path, data=data, content_type="multipart/form-data")
        assert response.status_code in (200, 303), (endpoint, response.get_data(as_text=True))
        entry = _last(app)
        assert entry is not None and entry.id > before.id, f"{endpoint}: no audit row"
        assert (entry.action, entry.actor_label) == (action, "admin-audit"), endpoint
        assert entry.chain_seq is not None and entry.row_hash
    # The own password change (every staff role's page) is audited as well.
    other = app.test_client()
    with app.app_context(), write_transaction():
        create_user("admin-dua", "sandi-admin-dua", "admin", "Admin Dua")
    assert login(other, "admin-dua", "sandi-admin-dua").status_code == 302
    token = csrf_token(other.get("/account/password").get_data(as_text=True))
    new = "Sandi-Admin-Dua-9"
    data = {"csrf_token": token, "current": "sandi-admin-dua", "new": new, "again": new}
    assert other.post("/account/password", data=data).status_code == 302
    entry = _last(app)
    assert (entry.action, entry.actor_label, entry.target) == (
        "account.password_change",
        "admin-dua",
        "admin-dua",
    )
